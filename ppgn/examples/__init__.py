"""Examples of user networks that plug into ppgn without retraining G."""
