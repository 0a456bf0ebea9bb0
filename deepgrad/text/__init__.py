"""Text pipeline: character vocabularies, corpora and contiguous-stream batching (char-rnn style)."""
from .corpus import CorpusError, default_corpus_path, read_corpus  # noqa: F401
from .batching import StreamBatches, split_train_val  # noqa: F401
from .vocab import CharVocab  # noqa: F401
from .words import WordVocab, bleu_scores, tokenize  # noqa: F401
from .tasks import CharTokens, TaskData, format_date, make_task  # noqa: F401
