"""The face-swap generators: the learned autoencoder (one shared encoder, one decoder per identity) and a graphics swap.

Read in this order: ``model.py`` (the autoencoder), ``warp.py`` (training pairs), ``losses.py``,
``adversarial.py`` (the GAN variant's patch discriminators), ``data.py`` (faces and the held-out
split), ``train.py`` (the Trainer and the run folder), ``methods.py`` (swap methods, named),
``convert.py`` (the one convert loop, and the autoencoder method), ``graphics.py`` (the graphics
swap: landmark warp + Poisson, no training), ``provenance.py`` (manifest + masks), ``evaluate.py`` (quality).

The Python entry points (this package imports nothing heavy itself, so ``fakebench --help`` stays fast)::

    from fakebench.generate.train import train, held_out_ranges
    from fakebench.generate.convert import convert

    result = train(out="runs/ab", a=["a.mp4"], b=["b1.mp4", "b2.mp4"], minutes=10, held_out=0.25)
    for part in held_out_ranges("runs/ab")["a"]:          # frames of A the model never saw
        manifest = convert("runs/ab", part["path"], to="b", out="fakes/a_to_b.mp4",
                           start=part["start"], stop=part["stop"])

    from fakebench.generate.graphics import convert_graphics

    manifest = convert_graphics("a.mp4", donor="b1.mp4", source="b", driving="a", out="fakes/a_from_b.mp4")
"""
