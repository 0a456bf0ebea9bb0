"""Image captioning: the Captioner (three conditioning modes), masked loss, decoding (greedy, sampling,
beam search against brute force), word vocabulary, generated scenes, caption-file loaders, the
training loop with its checkpoints, BLEU, the attention figure and the CLI."""
import argparse
import itertools
import json
import math
import sys

import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.models.captioner import (
    MODES, Captioner, beam_search, caption_loss, feature_extractor, greedy_decode, sample_captions)
from deepgrad.models import resnet20
from deepgrad.text.words import WordVocab, bleu_scores, tokenize
from deepgrad.train.captioning import (
    CaptionConfig, CaptionTrainer, add_parsers, evaluate_captions, load_captioner)
from deepgrad.vision.captions import (
    CaptionCorpus, load_caption_data, load_coco_captions, load_karpathy_split, read_image, write_image)
from deepgrad.vision.scenes import (
    Scene, ShapeSpec, attribute_accuracy, draw_scenes, generate_scenes, parse_caption, sample_scenes)
from deepgrad.viz.attention import plot_attention

TINY = dict(image_size=16, width=4, embed_dim=8, hidden=12, attn_dim=8)


def tiny_vocab(words=("x", "y")):
    return WordVocab(["<pad>", "<start>", "<end>", "<unk>", *words])


def tiny_model(mode, vocab_size=6, seed=0, sharpen=1.0, **kw):
    dg.manual_seed(seed)
    model = Captioner(vocab_size, mode=mode, **{**TINY, **kw})
    with dg.no_grad():
        model.head.weight.mul_(sharpen)   # spread the word probabilities so the best caption is clear-cut
    return model.eval()


def images(n, size=16, seed=0):
    return dg.rand(n, 3, size, size, generator=dg.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------ model and loss
@pytest.mark.parametrize("mode", MODES)
def test_forward_backward_shapes(mode):
    model = tiny_model(mode, vocab_size=9).train()
    caps = dg.randint(3, 9, (3, 5))
    logits, alphas = model(images(3), caps)
    assert logits.shape == (3, 4, 9) and logits.dtype == dg.float32
    if mode == "attention":
        assert alphas.shape == (3, 4, 4)           # 16 px -> a 2 x 2 feature map
    else:
        assert alphas is None
    caption_loss(logits, caps, 0).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert p.grad.dtype == dg.float32, name
    assert any(p.grad.abs().sum().item() > 0 for p in model.encoder.parameters())


def test_masked_loss_ignores_padding():
    pad = 0
    caps = dg.tensor([[1, 4, 5, 2, 0, 0], [1, 5, 2, 0, 0, 0]])
    logits = dg.randn(2, 5, 7, requires_grad=True)
    loss = caption_loss(logits, caps, pad)
    targets = caps[:, 1:]
    real = [(b, t) for b in range(2) for t in range(5) if targets[b, t].item() != pad]
    logp = F.log_softmax(logits, -1)
    manual = -sum(logp[b, t, targets[b, t].item()].item() for b, t in real) / len(real)
    assert loss.item() == pytest.approx(manual, rel=1e-5)
    loss.backward()
    for b in range(2):
        for t in range(5):
            nonzero = logits.grad[b, t].abs().sum().item() > 0
            assert nonzero == ((b, t) in real)
    # whatever the model says at padded positions, the loss is the same
    at_pad = (targets == pad).unsqueeze(-1)
    noisy = logits.detach() + dg.where(at_pad, dg.randn(2, 5, 7) * 50, dg.zeros(2, 5, 7))
    assert caption_loss(noisy, caps, pad).item() == pytest.approx(loss.item(), rel=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_extra_padding_changes_nothing(mode):
    model = tiny_model(mode, vocab_size=8)
    short = dg.tensor([[1, 4, 5, 2], [1, 6, 2, 0]])
    longer = dg.cat([short, dg.zeros(2, 3, dtype=dg.int64)], dim=1)
    img = images(2)
    a = caption_loss(model(img, short)[0], short, 0)
    b = caption_loss(model(img, longer)[0], longer, 0)
    assert b.item() == pytest.approx(a.item(), rel=1e-5)


def test_attention_weights_are_a_distribution():
    model = tiny_model("attention", vocab_size=8, image_size=32)
    _, alphas = model(images(2, 32), dg.randint(3, 8, (2, 6)))
    assert alphas.shape == (2, 5, 16)
    assert (alphas >= 0).all().item()
    assert dg.allclose(alphas.sum(-1), dg.ones(2, 5), atol=1e-5)
    caps = greedy_decode(model, images(2, 32), tiny_vocab(("a", "b", "c", "d")), max_len=4)
    for c in caps:
        assert c.alphas.shape == (len(c.ids), 4, 4)
        assert dg.allclose(c.alphas.sum((1, 2)), dg.ones(len(c.ids)), atol=1e-5)


def test_zoo_encoders_work():
    model = Captioner(7, mode="attention", encoder="resnet20", image_size=16, embed_dim=8, hidden=8,
                      attn_dim=8)
    assert model.grid == (4, 4)
    logits, alphas = model(images(2), dg.randint(3, 7, (2, 4)))
    assert logits.shape == (2, 3, 7) and alphas.shape == (2, 3, 16)
    caption_loss(logits, dg.randint(3, 7, (2, 4)), 0).backward()
    assert model.encoder[0].weight.grad is not None          # resnet20's conv1
    # a zoo model's feature stage shares its modules, so its (pretrained) weights are used
    net = resnet20()
    features = feature_extractor(net)
    assert features[0] is net.conv1
    init = Captioner(7, mode="init", encoder=features, image_size=16, hidden=8, embed_dim=8)
    assert init.config["encoder"] is None and init.encoder is features


def test_frozen_encoder_gets_no_gradient_and_stays_in_eval():
    model = Captioner(7, mode="init", freeze_encoder=True, **TINY).train()
    assert not model.encoder.training and model.head.training
    caps = dg.randint(3, 7, (2, 4))
    caption_loss(model(images(2), caps)[0], caps, 0).backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.head.weight.grad is not None


def test_user_errors():
    with pytest.raises(ValueError, match="mode must be one of init, first, attention, got 'late'"):
        Captioner(9, mode="late")
    with pytest.raises(ValueError, match="unknown encoder 'alexnet9'"):
        Captioner(9, encoder="alexnet9")
    model = tiny_model("init", vocab_size=9)
    with pytest.raises(ValueError, match=r"expected float images of shape \(B, 3, H, W\), got \(2, 16, 16\)"):
        model(dg.rand(2, 16, 16), dg.randint(3, 9, (2, 4)))
    with pytest.raises(ValueError, match="must be floating point"):
        model(dg.zeros(2, 3, 16, 16, dtype=dg.uint8), dg.randint(3, 9, (2, 4)))
    with pytest.raises(ValueError, match="2 images but 3 captions"):
        model(images(2), dg.randint(3, 9, (3, 4)))
    with pytest.raises(ValueError, match="do not match captions"):
        caption_loss(dg.zeros(2, 3, 9), dg.zeros(2, 5, dtype=dg.int64), 0)


# ------------------------------------------------------------------------------ decoding
def brute_force(model, image, vocab, max_len, length_norm=0.0):
    """Every caption of at most max_len words (ending at <end> or cut at max_len), scored with the
    teacher-forced forward pass; returns the best (score, ids)."""
    allowed = [i for i in range(len(vocab)) if i not in (vocab.pad_id, vocab.start_id)]
    banned = dg.zeros(len(vocab), dtype=dg.bool)
    banned[[vocab.pad_id, vocab.start_id]] = True
    best = None
    for n in range(1, max_len + 1):
        for seq in itertools.product(allowed, repeat=n):
            if vocab.end_id in seq[:-1] or (n < max_len and seq[-1] != vocab.end_id):
                continue
            with dg.no_grad():
                logits, _ = model(image, dg.tensor([[vocab.start_id, *seq]]))
            logp = F.log_softmax(logits[0].double().masked_fill(banned, -math.inf), -1)
            total = sum(logp[t, w].item() for t, w in enumerate(seq))
            score = total / n ** length_norm if length_norm else total
            if best is None or score > best[0]:
                best = (score, list(seq), total)
    return best


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("length_norm", [0.0, 1.0])
def test_beam_search_equals_brute_force(mode, length_norm):
    vocab = tiny_vocab()
    model = tiny_model(mode, sharpen=8.0, seed=3)
    for k in range(2):
        image = images(1, seed=k)
        score, ids, total = brute_force(model, image, vocab, max_len=3, length_norm=length_norm)
        found = beam_search(model, image, vocab, beam=40, max_len=3, length_norm=length_norm)[0]
        assert found.ids == ids
        assert found.log_prob == pytest.approx(total, abs=1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_greedy_equals_beam_width_one(mode):
    vocab = tiny_vocab(("a", "b", "c", "d", "e"))
    model = tiny_model(mode, vocab_size=len(vocab), sharpen=3.0)
    imgs = images(4, seed=5)
    greedy = greedy_decode(model, imgs, vocab, max_len=6)
    beams = beam_search(model, imgs, vocab, beam=1, max_len=6)
    for g, b in zip(greedy, beams):
        assert g.ids == b.ids
        assert g.log_prob == pytest.approx(b.log_prob, abs=1e-6)
        assert g.ids[-1] == vocab.end_id or len(g.ids) == 6
        assert vocab.pad_id not in g.ids and vocab.start_id not in g.ids


def test_wider_beams_never_score_worse_than_greedy():
    vocab = tiny_vocab(("a", "b", "c"))
    model = tiny_model("attention", vocab_size=len(vocab), sharpen=2.0)
    imgs = images(3, seed=9)
    for g, b in zip(greedy_decode(model, imgs, vocab, 5), beam_search(model, imgs, vocab, 7, 5)):
        assert b.log_prob >= g.log_prob - 1e-9


def test_sampling():
    vocab = tiny_vocab(("a", "b", "c"))
    model = tiny_model("init", vocab_size=len(vocab))
    imgs = images(3)
    first = sample_captions(model, imgs, vocab, 1.0, dg.Generator().manual_seed(1), max_len=8)
    again = sample_captions(model, imgs, vocab, 1.0, dg.Generator().manual_seed(1), max_len=8)
    assert [c.ids for c in first] == [c.ids for c in again]
    greedy = [c.ids for c in greedy_decode(model, imgs, vocab, 8)]
    assert [c.ids for c in sample_captions(model, imgs, vocab, 0.0, max_len=8)] == greedy
    assert [c.ids for c in sample_captions(model, imgs, vocab, 1e-4, dg.Generator(), max_len=8)] == greedy
    for c in sample_captions(model, imgs, vocab, 1e4, dg.Generator().manual_seed(2), max_len=8):
        assert vocab.pad_id not in c.ids and vocab.start_id not in c.ids
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        sample_captions(model, imgs, vocab, -1.0)
    with pytest.raises(ValueError, match="beam width must be >= 1"):
        beam_search(model, imgs, vocab, beam=0)


# ------------------------------------------------------------------------------ words
def test_tokenize_and_vocabulary():
    assert tokenize("A dog's frisbee, on the GRASS.") == ["a", "dog's", "frisbee", "on", "the", "grass"]
    vocab = WordVocab.build(["a red circle", "a red square", "a blue circle", "one triangle"], min_count=2)
    assert vocab.words == ["<pad>", "<start>", "<end>", "<unk>", "a", "circle", "red"]
    ids = vocab.encode("A red triangle")
    assert ids == [vocab.start_id, 4, 6, vocab.unk_id, vocab.end_id]
    assert vocab.decode(ids) == "a red <unk>"
    assert vocab.decode([4, 5, vocab.end_id, 6]) == "a circle"        # stops at <end>
    assert vocab.encode(["a", "circle"], start=False, end=False) == [4, 5]
    padded = vocab.pad([[1, 4, 2], [1, 2]])
    assert padded.tolist() == [[1, 4, 2], [1, 2, 0]] and padded.dtype == dg.int64
    assert WordVocab.from_dict(vocab.to_dict()).words == vocab.words
    assert len(WordVocab.build(["a b c d"], min_count=1, max_size=2)) == 6
    with pytest.raises(ValueError, match="must start with the special tokens"):
        WordVocab(["a", "b"])
    with pytest.raises(ValueError, match="min_count must be >= 1"):
        WordVocab.build(["a"], min_count=0)


def test_bleu_scores_match_nltk():
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
    refs = [[tokenize("a small red circle above a blue square"),
             tokenize("the red circle is over the square")],
            [tokenize("a green triangle left of a white circle")]]
    hyps = [tokenize("a small red circle over a blue square"), tokenize("a green triangle left of a circle")]
    scores = bleu_scores(refs, hyps)
    assert scores["bleu4"] == pytest.approx(
        corpus_bleu(refs, hyps, smoothing_function=SmoothingFunction().method1))
    assert scores["bleu1"] == pytest.approx(corpus_bleu(refs, hyps, weights=(1.0,)))
    assert 0 < scores["bleu4"] < scores["bleu3"] < scores["bleu2"] < scores["bleu1"] < 1
    assert bleu_scores([[["a", "b", "c", "d"]]], [["a", "b", "c", "d"]])["bleu4"] == pytest.approx(1.0)


def test_bleu_without_nltk_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "nltk.translate.bleu_score", None)
    with pytest.raises(ImportError, match=r"pip install 'deepgrad\[text\]'"):
        bleu_scores([[["a"]]], [["a"]])


# ------------------------------------------------------------------------------ scenes
def test_scenes_are_reproducible_and_captions_describe_them():
    a, b = generate_scenes(40, image_size=32, seed=7), generate_scenes(40, image_size=32, seed=7)
    assert a.images.shape == (40, 3, 32, 32) and a.images.dtype == dg.uint8
    assert dg.equal(a.images, b.images) and a.captions == b.captions
    assert not dg.equal(a.images, generate_scenes(40, image_size=32, seed=8).images)
    assert all(len(c) == 5 and len(set(c)) > 1 for c in a.captions)
    for j in range(5):
        acc = attribute_accuracy(a.scenes, [c[j] for c in a.captions])
        assert acc["attributes"] == acc["exact"] == 1.0
    for scene in sample_scenes(2000, dg.Generator().manual_seed(1)):
        p, q = scene.objects
        dx, dy = p.x - q.x, p.y - q.y
        along = {"left": -dx, "right": dx, "above": -dy, "below": dy}[scene.relation]
        across = abs(dy) if scene.relation in ("left", "right") else abs(dx)
        assert along >= p.r + q.r and across <= along / 2 + 1e-9
        assert p.colour != q.colour
        for o in (p, q):
            assert o.r <= o.x <= 1 - o.r and o.r <= o.y <= 1 - o.r      # inside the image


def test_scene_pixels_show_the_shapes():
    shape = ShapeSpec("square", "red", "large", 0.25, 0.5, 0.15, (1.0, 0.0, 0.0))
    circle = ShapeSpec("circle", "blue", "small", 0.75, 0.5, 0.08, (0.0, 0.0, 1.0))
    img = draw_scenes([Scene((shape, circle), "left", (0.2, 0.2, 0.2))], image_size=64, noise=0.0)[0]
    assert img[:, 32, 16].tolist() == [255, 0, 0]            # the square's centre
    assert img[:, 32, 48].tolist() == [0, 0, 255]            # the circle's centre
    assert img[:, 5, 5].tolist() == [51, 51, 51]             # background
    # a triangle points up: its top corners are background, its base corners are not
    tri = ShapeSpec("triangle", "green", "large", 0.5, 0.5, 0.2, (0.0, 1.0, 0.0))
    img = draw_scenes([Scene((tri, circle), "left", (0.0, 0.0, 0.0))], image_size=64, noise=0.0)[0]
    assert img[1, 21, 22].item() == 0 and img[1, 44, 22].item() == 255 and img[1, 21, 32].item() == 255


def test_attribute_accuracy_scores_each_slot():
    red = ShapeSpec("circle", "red", "small", 0.2, 0.2, 0.1, (1, 0, 0))
    blue = ShapeSpec("square", "blue", "large", 0.2, 0.8, 0.2, (0, 0, 1))
    scene = Scene((red, blue), "above", (0, 0, 0))
    assert parse_caption("the large blue square is under the small red circle") == (
        [("large", "blue", "square"), ("small", "red", "circle")], "below")
    perfect = attribute_accuracy([scene], ["the large blue square is under the small red circle"])
    assert perfect["attributes"] == perfect["exact"] == perfect["size"] == 1.0
    wrong = attribute_accuracy([scene], ["a red circle below a green square"])
    assert wrong["colour"] == 0.5 and wrong["shape"] == 1.0 and wrong["relation"] == 0.0
    assert wrong["size"] == 0.0 and wrong["attributes"] == pytest.approx(3 / 5) and wrong["exact"] == 0.0
    assert attribute_accuracy([scene], ["nothing here"])["attributes"] == 0.0
    with pytest.raises(ValueError, match="1 scenes but 2 captions"):
        attribute_accuracy([scene], ["a", "b"])


# ------------------------------------------------------------------------------ caption files
@pytest.fixture
def caption_files(tmp_path):
    data = generate_scenes(6, image_size=24, seed=3)
    img_dir = tmp_path / "train2014"
    img_dir.mkdir()
    names = [f"COCO_train2014_{i:012d}.png" for i in range(6)]
    for name, image in zip(names, data.images):
        write_image(image, img_dir / name)
    (tmp_path / "annotations").mkdir()
    coco = {"info": {}, "images": [{"id": 100 + i, "file_name": n, "width": 24, "height": 24}
                                   for i, n in enumerate(names)],
            "annotations": [{"id": 1000 + 10 * i + j, "image_id": 100 + i, "caption": c.capitalize() + "."}
                            for i, caps in enumerate(data.captions) for j, c in enumerate(caps[:2])]}
    (tmp_path / "annotations" / "captions_train2014.json").write_text(json.dumps(coco))
    splits = ["train", "train", "restval", "val", "test", "test"]
    karpathy = {"dataset": "coco", "images": [
        {"filepath": "train2014", "filename": n, "imgid": i, "split": s, "cocoid": 100 + i,
         "sentences": [{"tokens": tokenize(c), "raw": c.upper(), "imgid": i, "sentid": 5 * i + j}
                       for j, c in enumerate(data.captions[i])]}
        for i, (n, s) in enumerate(zip(names, splits))]}
    (tmp_path / "dataset_coco.json").write_text(json.dumps(karpathy))
    return tmp_path, data, names


def test_coco_loader(caption_files):
    root, data, names = caption_files
    corpus = load_coco_captions(root / "annotations" / "captions_train2014.json", image_size=24)
    assert len(corpus) == 6 and corpus.names == names
    assert corpus.captions[2] == [c.capitalize() + "." for c in data.captions[2][:2]]
    assert dg.equal(corpus.images, data.images)              # PNG is lossless, the size unchanged
    small = load_coco_captions(root / "annotations" / "captions_train2014.json", image_size=12, limit=2)
    assert small.images.shape == (2, 3, 12, 12) and small.images.dtype == dg.uint8
    assert dg.equal(load_caption_data(root / "annotations", "train", 24).images, corpus.images)


def test_karpathy_loader(caption_files):
    root, data, names = caption_files
    train = load_karpathy_split(root / "dataset_coco.json", "train", image_size=24)
    assert train.names == [f"train2014/{n}" for n in names[:3]]             # restval joins train
    assert train.captions[1] == data.captions[1]
    assert dg.equal(train.images, data.images[:3])
    assert len(load_karpathy_split(root / "dataset_coco.json", "train", image_size=24,
                                   include_restval=False)) == 2
    test = load_caption_data(root, "test", image_size=24)                     # found by the folder
    assert test.captions == data.captions[4:] and len(test) == 2
    assert dg.equal(test.images, data.images[4:])


def test_loader_errors(caption_files, tmp_path):
    root, _, _ = caption_files
    with pytest.raises(FileNotFoundError, match="not found in"):
        load_karpathy_split(root / "dataset_coco.json", "val", image_dir=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="split must be one of train, val, test, restval"):
        load_karpathy_split(root / "dataset_coco.json", "dev")
    bad = tmp_path / "dataset_bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="dataset_bad.json: not a JSON file"):
        load_karpathy_split(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no caption annotations for split 'train'"):
        load_caption_data(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="image file not found"):
        read_image(tmp_path / "missing.png", 8)


def test_read_image_converts_grey_and_rgba(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    grey = dg.linspace(0, 1, 64).reshape(8, 8)
    plt.imsave(tmp_path / "grey.png", grey.numpy(), cmap="gray", vmin=0, vmax=1)   # written as RGBA
    img = read_image(tmp_path / "grey.png", 8)
    assert img.shape == (3, 8, 8) and img.dtype == dg.uint8
    assert dg.equal(img[0], img[2]) and img[0, 0, 0].item() == 0 and img[0, 7, 7].item() == 255


def test_corpus_subset_keeps_scenes():
    data = generate_scenes(5, image_size=16, seed=1)
    part = data.subset([3, 1])
    assert part.scenes == [data.scenes[3], data.scenes[1]] and part.captions[0] == data.captions[3]
    assert dg.equal(part.images[1], data.images[1])
    with pytest.raises(ValueError, match="2 images, 1 caption lists"):
        CaptionCorpus(data.images[:2], [["a"]], ["x", "y"])


# ------------------------------------------------------------------------------ training and CLI
def tiny_config(**kw):
    base = dict(scenes=24, val_scenes=8, captions_per_scene=2, image_size=16, width=4, embed_dim=8, hidden=12,
                attn_dim=8, batch=8, val_every=3, min_count=1)
    return CaptionConfig(**{**base, **kw})


def test_checkpoint_round_trip_and_exact_resume(tmp_path):
    full = CaptionTrainer(tiny_config(), tmp_path / "full")
    full.fit(steps=4, progress=False)
    model, vocab, ckpt = load_captioner(tmp_path / "full" / "last.ckpt")
    assert vocab.words == full.vocab.words and ckpt["step"] == 4
    img = images(2)
    caps = dg.randint(3, len(vocab), (2, 5))
    full.model.eval()
    assert dg.equal(model(img, caps)[0], full.model(img, caps)[0])
    half = CaptionTrainer(tiny_config(), tmp_path / "half")
    half.fit(steps=2, progress=False)
    # the checkpoint's config wins over the one given
    resumed = CaptionTrainer(tiny_config(lr=1.0), tmp_path / "half", resume=True)
    assert resumed.config.lr == full.config.lr
    resumed.fit(steps=4, progress=False)
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert dg.equal(a, b), name
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        CaptionTrainer(tiny_config(), tmp_path / "full")
    with pytest.raises(ValueError, match="not a deepgrad captioner checkpoint"):
        dg.save({"format": "other"}, tmp_path / "other.ckpt")
        load_captioner(tmp_path / "other.ckpt")


def test_evaluate_on_scenes_reports_bleu_and_attributes(tmp_path):
    trainer = CaptionTrainer(tiny_config(mode="init"), tmp_path)
    scores = evaluate_captions(trainer.model, trainer.vocab, trainer.val_data, beam=2, max_len=6)
    assert set(scores) >= {"bleu1", "bleu4", "attributes", "relation", "exact", "captions"}
    assert len(scores["captions"]) == 8 and 0 <= scores["bleu4"] <= scores["bleu1"] <= 1


def test_training_on_caption_files(caption_files, tmp_path):
    root, _, _ = caption_files
    trainer = CaptionTrainer(tiny_config(data=str(root), batch=4, mode="first"), tmp_path / "run")
    assert len(trainer.train_data) == 3 and len(trainer.val_data) == 1      # the 'val' split of the file
    result = trainer.fit(steps=2, progress=False)
    assert result["steps"] == 2 and math.isfinite(result["val_loss"])


def parser():
    p = argparse.ArgumentParser(prog="deepgrad")
    add_parsers(p.add_subparsers(dest="command", required=True))
    return p


def test_cli_train_then_caption_with_attention(tmp_path, capsys):
    out = tmp_path / "run"
    args = parser().parse_args(["train-captioner", "--scenes", "24", "--val-scenes", "4", "--attention",
                                "--image-size", "16", "--width", "4", "--hidden", "12", "--embed-dim", "8",
                                "--attn-dim", "8", "--batch", "8", "--steps", "2", "--min-count", "1",
                                "--out", str(out), "--no-progress"])
    assert args.mode == "attention" and args.func(args) == 0
    text = capsys.readouterr().out
    assert "training a 'attention' captioner" in text and "BLEU-4" in text
    data = generate_scenes(2, image_size=16, seed=99)
    files = [tmp_path / f"scene{i}.png" for i in range(2)]
    for f, image in zip(files, data.images):
        write_image(image, f)
    args = parser().parse_args(["caption", str(out / "last.ckpt"), *map(str, files), "--beam", "3",
                                "--max-len", "4", "--show-attention", str(tmp_path / "att.png")])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(": ")[0] for line in lines] == [str(f) for f in files]
    assert (tmp_path / "att-0.png").stat().st_size > 1000 and (tmp_path / "att-1.png").exists()
    args = parser().parse_args(["caption", str(out / "last.ckpt"), str(files[0]), "--temperature", "0.7",
                                "--seed", "3"])
    assert args.func(args) == 0 and capsys.readouterr().out.startswith(str(files[0]))


def test_cli_show_attention_needs_an_attention_model(tmp_path, capsys):
    trainer = CaptionTrainer(tiny_config(mode="init"), tmp_path / "run")
    trainer.fit(steps=1, progress=False)
    write_image(trainer.val_data.images[0], tmp_path / "x.png")
    args = parser().parse_args(["caption", str(tmp_path / "run" / "last.ckpt"), str(tmp_path / "x.png"),
                                "--show-attention", str(tmp_path / "a.png")])
    assert args.func(args) == 2
    assert "needs an attention captioner; this checkpoint's mode is 'init'" in capsys.readouterr().err


def test_plot_attention(tmp_path):
    img = generate_scenes(1, image_size=32, seed=0).images[0]
    alphas = F.softmax(dg.randn(3, 16), -1).reshape(3, 4, 4)
    plot_attention(img, ["a", "red", "<end>"], alphas, tmp_path / "att.png")
    assert (tmp_path / "att.png").stat().st_size > 1000
    with pytest.raises(ValueError, match=r"expected attention maps of shape \(2, h, w\)"):
        plot_attention(img, ["a", "b"], alphas, tmp_path / "bad.png")
