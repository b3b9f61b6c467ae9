"""The dilated CNN of the DNA models (ml/nets/dnaconv.py)."""


def test_every_conv_of_the_dna_network_is_called_as_a_module_so_quantization_can_hook_it():
    import torch

    from ml.nets import build
    from ml.quantize.model import candidate_layers, layers_in_forward_order

    net = build("dnaconv", width=8, depth=5, kernel=9)
    # length 32: the dilation-16 and -64 layers drop taps that only see padding, and are still hooked
    x = torch.softmax(torch.randn(3, 32, 5), -1)
    assert set(layers_in_forward_order(net, [(x,)])) == set(candidate_layers(net))
