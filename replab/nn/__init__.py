"""Building blocks (torch only): encoders, MLP/VGG stacks, ResNet/BoTNet, LRU. Import from the module files."""
