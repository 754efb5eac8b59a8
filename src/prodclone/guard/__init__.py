"""What keeps a run's cleanup whole: signal shielding and file locks."""
