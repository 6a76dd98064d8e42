"""Networks and losses of the First Order Motion Model: torch.nn code only, no file or video I/O."""
