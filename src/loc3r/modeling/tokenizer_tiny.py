"""A tiny, deterministic tokenizer for the tiny preset (CPU tests, the demo, the synthetic benchmark).

Built on the fly with the ``tokenizers`` library from a fixed vocabulary — no training, no download, identical
bytes on every machine. Design:

* **Model:** WordPiece over a fixed word list (indoor-scene categories, colours, spatial relations, numbers,
  question words, chat words) with a character fallback: every lowercase letter, digit and ASCII punctuation
  mark exists both as a word-initial piece and as a ``##`` continuation piece, so any ASCII text tokenizes
  without ``<unk>`` (an out-of-vocabulary word becomes its characters).
* **Normalisation:** NFKC + lowercase. **Pre-tokenisation:** split on whitespace and punctuation (BERT style);
  newlines are therefore not tokens (the chat template's line breaks disappear, harmlessly, for this
  tokenizer).
* **Special tokens** (never split, never normalised), ids 0..N-1 in this order: ``<|endoftext|>`` (padding),
  ``<|im_start|>``, ``<|im_end|>`` (end of turn = EOS, as in Qwen2 chat), ``<unk>``, ``<video>``, ``<image>``,
  ``<cam>``, ``<Pos>``, ``<Ori>``.
"""

from __future__ import annotations

import string

from loc3r.constants import CAM_TOKEN, ORI_TOKEN, POS_TOKEN

__all__ = ["TINY_SPECIAL_TOKENS", "TINY_WORDS", "tiny_vocabulary", "build_tiny_tokenizer"]

PAD_TOKEN = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
UNK_TOKEN = "<unk>"
VIDEO_TOKEN = "<video>"
IMAGE_TOKEN = "<image>"

TINY_SPECIAL_TOKENS: tuple[str, ...] = (
    PAD_TOKEN,
    IM_START,
    IM_END,
    UNK_TOKEN,
    VIDEO_TOKEN,
    IMAGE_TOKEN,
    CAM_TOKEN,
    POS_TOKEN,
    ORI_TOKEN,
)

_CHAT = "system user assistant you are a helpful assistant"
_SITUATION = (
    "i am standing sitting facing looking walking lying in on at the room near next to with my behind "
    "front of left right back side is there and while toward towards away from between by against "
    "corner wall floor ceiling middle center centre entrance doorway turned turn around have"
)
_QUESTION = (
    "what which where how many much is are was were do does did can could would should will if any "
    "there this that these those it its they them their color colour shape size type kind object "
    "objects thing things count number total closest nearest farthest furthest largest smallest "
    "biggest tallest shortest longest distance meters meter metres metre m cm centimeters length "
    "width height area volume square appears appear first last order sequence relative direction "
    "route plan go forward backward straight clockwise counterclockwise degrees o'clock yes no not "
    "none both either neither or than more less fewer same different other another each every all "
    "some one ones answer question options option choose select best describes following directly "
    "above below under over beside inside outside top bottom up down high low close far big small "
    "large tall short long wide narrow empty full open closed visible see seen can't cannot video "
    "scene frame frames camera view viewpoint position orientation pose i'm me"
)
_CATEGORIES = (
    "chair chairs table tables bed beds sofa sofas couch desk desks cabinet cabinets shelf shelves "
    "bookshelf bookshelves door doors window windows lamp lamps tv monitor screen plant plants toilet "
    "sink bathtub shower refrigerator fridge counter curtain curtains picture pictures painting "
    "pillow pillows box boxes trash can bin backpack bag bags book books clothes towel mirror "
    "nightstand dresser stool stools armchair ottoman bench cupboard wardrobe closet microwave oven "
    "stove kettle laptop computer keyboard mouse printer fan heater radiator whiteboard board "
    "blackboard rug carpet mat basket bottle cup mug bowl plate vase clock guitar piano suitcase "
    "coffee kitchen bathroom bedroom office living dining hallway stairs step cube sphere cylinder "
    "cone block ball pillar column crate barrel pole"
)
_COLOURS = (
    "red green blue yellow orange purple pink brown black white gray grey beige cyan magenta teal "
    "navy maroon olive dark light bright colored coloured wooden metal plastic glass"
)
_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty hundred half quarter"
)

TINY_WORDS: tuple[str, ...] = tuple(
    " ".join([_CHAT, _SITUATION, _QUESTION, _CATEGORIES, _COLOURS, _NUMBERS]).split()
) + tuple(str(i) for i in range(100))


def tiny_vocabulary() -> dict[str, int]:
    """The ordered token -> id map: special tokens, then words, then characters and ``##`` continuations."""
    ordered: list[str] = list(TINY_SPECIAL_TOKENS)
    chars = string.ascii_lowercase + string.digits + string.punctuation
    ordered += [w for w in TINY_WORDS if "'" not in w]  # apostrophes are split off by the pre-tokenizer
    ordered += list(chars)
    ordered += ["##" + c for c in chars]
    vocab: dict[str, int] = {}
    for tok in ordered:
        if tok not in vocab:
            vocab[tok] = len(vocab)
    return vocab


def build_tiny_tokenizer():
    """Build the tiny tokenizer (a ``transformers`` fast tokenizer) deterministically, offline.

    Returns:
        A ``PreTrainedTokenizerFast`` with ``pad_token="<|endoftext|>"``, ``eos_token="<|im_end|>"``,
        ``unk_token="<unk>"`` and the placeholders ``<video>``, ``<image>``, ``<cam>``, ``<Pos>``, ``<Ori>``
        registered as special tokens; ``padding_side="right"``.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = tiny_vocabulary()
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token=UNK_TOKEN, max_input_chars_per_word=100))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in TINY_SPECIAL_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD_TOKEN,
        eos_token=IM_END,
        unk_token=UNK_TOKEN,
        padding_side="right",
        model_max_length=1 << 20,
    )
    return fast
