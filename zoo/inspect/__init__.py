"""Looking inside a network: ``cnncost show`` (filters, activations, guided backpropagation,
activation maximisation, the prediction grid, and Captum's attribution maps).

The pieces are small and separate: ``source`` opens what is looked at (a saved
run or a zoo network) and the image shown to it; ``layers`` resolves layer names
(the engine's hierarchical names, ``model._leaves``); ``filters``,
``activations``, ``guided``, ``attribution`` (Grad-CAM, guided Grad-CAM, saliency, integrated
gradients, occlusion, on Captum) and ``maximize`` compute tensors (no matplotlib);
``figures`` draws them; ``views`` joins one computation to one drawing per
command. See docs/inspect.md.
"""
