"""Recipe: train the captioner on Fashion-MNIST captions (class word + measured attributes).

    ppgn train captioner --dataset fashion-mnist --out runs/captioner

With ``classifier`` set (the default on the command line: the shipped E/C), the captioner reads
h = E(x) of that frozen encoder, as the paper's LRCN read CaffeNet's features; otherwise it
has a small CNN of its own on the pixels.

Each step every image gets a fresh caption: one of the templates, with the attributes that
hold for it (``ppgn.data.captions``). The loss is the sentence's negative log-likelihood per
word. Reported on the test set: how often the captioner, used as a classifier (the class whose
"a {class}" it finds likeliest), is right; and how often it prefers the true brightness and
size word when one holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data import load_dataset, to_tensor
from ..data.captions import (
    BRIGHTNESS,
    CLASS_WORDS,
    SIZE,
    attribute_words,
    encode,
    fit_thresholds,
    make_caption,
    vocabulary,
)
from ..io import InputError, check_choice
from ..models import Classifier, load_model, save_model
from ..models.captioner import Captioner, CaptionerConfig
from .common import check_fields, encode_all
from .limits import BATCH, EPOCHS, LR, SEED, SUBSET
from .loop import Run

DATASETS = ("fashion-mnist", "digits")  # captions name Fashion-MNIST's classes; digits (10 classes, built in) stands in for quick runs


@dataclass(frozen=True)
class CaptionerTrainConfig:
    dataset: str = "fashion-mnist"
    epochs: int = 4
    batch_size: int = 128
    lr: float = 3e-3
    train_subset: int = 0  # 0 = the whole training set
    classifier: str = ""  # a Classifier's weights: read h = E(x); "" = a CNN on the pixels
    seed: int = 0

    def __post_init__(self):
        check_fields(self, epochs=EPOCHS, batch_size=BATCH, lr=LR, train_subset=SUBSET, seed=SEED)
        check_choice(self.dataset, "--dataset", DATASETS)


def sentence_batch(sentences: list[str], vocab: tuple[str, ...]) -> torch.Tensor:
    """Encoded sentences, 0-padded to the longest: (B, T)."""
    ids = [encode(s, vocab) for s in sentences]
    out = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)
    for i, row in enumerate(ids):
        out[i, : len(row)] = torch.tensor(row)
    return out


@torch.no_grad()
def caption_metrics(model: Captioner, x: torch.Tensor, images: np.ndarray, labels: np.ndarray, batch: int = 1000) -> dict:
    """Class accuracy of argmax_c log p("a {c}" | x), and attribute accuracy where one holds.

    Args:
        x: what the captioner reads (images (N, C, H, W) or codes (N, D)); images: uint8 (N, H, W).
    """
    model.eval()
    vocab = model.config.vocab
    b_words, s_words = attribute_words(images, labels, model.config.thresholds)
    scores = []
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        scores.append(torch.stack([model.log_prob(xb, sentence_batch([f"a {c}"], vocab)) for c in CLASS_WORDS], 1))
    class_acc = (torch.cat(scores).argmax(1).numpy() == labels).mean()
    result = {"class_accuracy": round(float(class_acc), 4)}
    for name, words, pair in (("brightness", b_words, BRIGHTNESS), ("size", s_words, SIZE)):
        idx = np.array([i for i, w in enumerate(words) if w is not None])[:2000]
        xb, truth = x[idx], [words[i] for i in idx]
        pick = []
        for w in pair:
            sents = sentence_batch([f"a {w} {CLASS_WORDS[k]}" for k in labels[idx]], vocab)
            pick.append(model.log_prob(xb, sents))
        chosen = np.array(pair)[torch.stack(pick, 1).argmax(1).numpy()]
        result[f"{name}_accuracy"] = round(float((chosen == np.array(truth)).mean()), 4)
    return result


def train_captioner(config: CaptionerTrainConfig, out: str | Path, data_dir: str | None = None, device: str | None = None,
                    quiet: bool = False, checkpoint_every: int = 200, amp: str | None = None) -> tuple[Captioner, dict]:
    """Train, checkpointing to ``out``; weights go to ``out/captioner.safetensors`` with a card."""
    run = Run.start(config, out, device, quiet, checkpoint_every, amp)
    encoder = load_model(config.classifier, run.device, expect=Classifier) if config.classifier else None  # fail fast
    train, test = load_dataset(config.dataset, "train", data_dir), load_dataset(config.dataset, "test", data_dir)
    if len(train.classes) != len(CLASS_WORDS):
        raise ValueError(f"captions need the {len(CLASS_WORDS)} Fashion-MNIST classes; {config.dataset} has {len(train.classes)}")
    if config.train_subset:
        train = train.subset(config.train_subset, run.gen)
    steps = run.total_steps(len(train))  # refuses a set smaller than one batch, before any work
    missing = sorted(set(range(len(CLASS_WORDS))) - set(np.asarray(train.labels).tolist()))
    if missing:  # the attribute thresholds are measured per class
        where = f"--train-subset {config.train_subset} leaves" if config.train_subset else f"{config.dataset} has"
        raise InputError(f"{where} no image of class {', '.join(CLASS_WORDS[k] for k in missing)}; "
                         "captions need every class: raise --train-subset (0 = all)")
    vocab = vocabulary()
    thresholds = fit_thresholds(train.images, train.labels, len(CLASS_WORDS))
    x_train, x_test = to_tensor(train.images), to_tensor(test.images)
    if encoder is not None:  # read h = E(x) of the frozen encoder, computed once
        x_train, x_test = encode_all(encoder, x_train), encode_all(encoder, x_test)
        model_config = CaptionerConfig(vocab=vocab, thresholds=thresholds, input="code", code_dim=x_train.shape[1])
    else:
        model_config = CaptionerConfig(vocab=vocab, thresholds=thresholds)
    model = Captioner(model_config).to(run.device)
    b_words, s_words = attribute_words(train.images, train.labels, thresholds)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
    net = run.distribute(model)

    def step(idx: torch.Tensor) -> torch.Tensor:
        model.train()
        choice = torch.randint(0, 1000, (len(idx),), generator=run.gen).tolist()  # a fresh caption for every image
        captions = [make_caption(int(train.labels[j]), b_words[j], s_words[j], c) for j, c in zip(idx.tolist(), choice)]
        sents = sentence_batch(captions, vocab).to(run.device)  # (B, T)
        words = sents[:, 1:] != 0
        x, sents = run.shard(x_train[idx], sents)
        share = run.shard(words).sum() / words.sum()  # of the batch's words, this rank's: 1 in one process
        logits = net(x.to(run.device), sents[:, :-1])
        loss = F.cross_entropy(logits.transpose(1, 2), sents[:, 1:], ignore_index=0)  # per word of this shard
        loss = loss * (share * run.world_size)  # per word of the batch once DDP averages the ranks
        run.descend(loss, opt, sched)
        return loss

    run.fit(len(train), step, dict(model=model, opt=opt, sched=sched), "train captioner")
    model.eval()
    card = run.card(train.sha256, {**caption_metrics(model.cpu(), x_test, test.images, test.labels), "train_size": len(train)})
    if run.main:
        save_model(model, Path(out) / "captioner.safetensors", card)
    run.barrier()
    return model, card
