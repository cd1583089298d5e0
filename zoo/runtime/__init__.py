"""What training and inspection both run on: the device, image decoding and normalisation, atomic file
writes (``files``) and the figure canvas (``canvas``).

Below ``zoo.training`` and ``zoo.inspect`` (the zoo-layers import contract), so that a view
(``cnncost show``) gets a device and an image the way a run does without importing training.
"""
