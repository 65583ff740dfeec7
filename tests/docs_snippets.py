"""Code from the Transformers docs pages, as the pages write it, for tests/test_docs_examples.py.

Each ``Snippet`` is one page's code (or one part of it), copied from the page named in ``page`` (the v4.37 docs,
with the Hub ids of the current docs, e.g. ``openai-community/gpt2``). ``checks`` names extra values to compare
after the run (expressions in the snippet's namespace); the values the code shows (its expression statements) and
prints are compared as well. ``reference`` says which reference runs it: ``"v4"`` is transformers 4.37 (the docs'
version, whose pipelines we follow), ``"v5"`` the installed transformers, for the Trainer pages (4.37's Trainer
cannot run against this environment's accelerate and datasets).

Changes from the pages' text, each marked ``# docs:`` where it is made:
- CPU instead of CUDA (``.to("cpu")``, no ``device=0``), no ``load_in_4bit`` (bitsandbytes needs a GPU), no
  ``fp16=True``, no ``push_to_hub=True`` (offline), no ``num_proc=4`` (four processes to map a few rows);
- fewer rows and steps (``range(10)`` for ``range(1000)``): the data sets are small offline stand-ins;
- on the Trainer pages, the names the v5 reference requires: ``eval_strategy`` for ``evaluation_strategy`` and
  ``processing_class`` for ``tokenizer`` (renamed in v4.41 and v4.46; workbench accepts both spellings);
- metrics that need their own packages (seqeval, sacrebleu, rouge) are left out; ``evaluate.load("accuracy")``
  stays (tests/docs_runner.py stands in for it);
- T5 stands in for Pegasus in the diverse beam search example (no Pegasus vocabulary offline), and the pipeline
  tutorial's list of audio files becomes a list of prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DOCS = "https://huggingface.co/docs/transformers/v4.37.2/en/"
# The Trainer's log without timings (runtime, samples per second), which differ from run to run.
TRAINER_LOG = (
    "[{k: v for k, v in h.items() if k.endswith(('loss', 'accuracy')) or k in ('epoch', 'step')}"
    " for h in trainer.state.log_history]"
)
# What the Trainer logged when, without the values: for runs whose losses are not comparable between libraries.
TRAINER_STEPS = (
    "[[h['epoch'], h['step'], sorted(k for k in h if k.endswith('loss'))] for h in trainer.state.log_history]"
)


@dataclass(frozen=True)
class Snippet:
    name: str
    page: str
    code: str
    checks: dict[str, str] = field(default_factory=dict)
    reference: str = "v4"
    # False: what the code prints is not compared (a perplexity from the losses that are not comparable)
    compare_printed: bool = True


SNIPPETS: list[Snippet] = []


def snippet(name: str, page: str, code: str, **options) -> None:
    SNIPPETS.append(Snippet(name, DOCS + page, code.strip("\n"), **options))


# ---- Quick tour --------------------------------------------------------------------------------------------

snippet(
    "quicktour-pipeline",
    "quicktour#pipeline",
    """
from transformers import pipeline

classifier = pipeline("sentiment-analysis")
classifier("We are very happy to show you the 🤗 Transformers library.")
results = classifier(["We are very happy to show you the 🤗 Transformers library.", "We hope you don't hate it."])
for result in results:
    print(f"label: {result['label']}, with score: {round(result['score'], 4)}")
""",
)

snippet(
    "quicktour-another-model",
    "quicktour#use-another-model-and-tokenizer-in-the-pipeline",
    """
from transformers import pipeline

model_name = "nlptown/bert-base-multilingual-uncased-sentiment"
from transformers import AutoTokenizer, AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained(model_name)
tokenizer = AutoTokenizer.from_pretrained(model_name)
classifier = pipeline("sentiment-analysis", model=model, tokenizer=tokenizer)
classifier("Nous sommes très heureux de vous présenter la bibliothèque 🤗 Transformers.")
""",
)

snippet(
    "quicktour-autoclass",
    "quicktour#autoclass",
    """
from transformers import AutoTokenizer

model_name = "nlptown/bert-base-multilingual-uncased-sentiment"
tokenizer = AutoTokenizer.from_pretrained(model_name)
encoding = tokenizer("We are very happy to show you the 🤗 Transformers library.")
print(encoding)
pt_batch = tokenizer(
    ["We are very happy to show you the 🤗 Transformers library.", "We hope you don't hate it."],
    padding=True,
    truncation=True,
    max_length=512,
    return_tensors="pt",
)
from transformers import AutoModelForSequenceClassification

model_name = "nlptown/bert-base-multilingual-uncased-sentiment"
pt_model = AutoModelForSequenceClassification.from_pretrained(model_name)
pt_outputs = pt_model(**pt_batch)
from torch import nn

pt_predictions = nn.functional.softmax(pt_outputs.logits, dim=-1)
print(pt_predictions)
pt_save_directory = "./pt_save_pretrained"
tokenizer.save_pretrained(pt_save_directory)
pt_model.save_pretrained(pt_save_directory)
pt_model = AutoModelForSequenceClassification.from_pretrained("./pt_save_pretrained")
""",
    checks={"pt_batch": "pt_batch", "reloaded": "pt_model(**pt_batch).logits"},
)

snippet(
    "quicktour-custom-model",
    "quicktour#custom-model-builds",
    """
from transformers import AutoConfig

my_config = AutoConfig.from_pretrained("distilbert/distilbert-base-uncased", n_heads=12)
from transformers import AutoModel

my_model = AutoModel.from_config(my_config)
""",
    checks={
        "n_heads": "my_config.n_heads",
        "class": "type(my_model).__name__",
        "shapes": "{k: list(v.shape) for k, v in my_model.state_dict().items()}",
    },
)

snippet(
    "quicktour-trainer",
    "quicktour#trainer---a-pytorch-optimized-training-loop",
    """
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("distilbert/distilbert-base-uncased")
from transformers import TrainingArguments

training_args = TrainingArguments(
    output_dir="path/to/save/folder/",
    learning_rate=2e-5,
    per_device_train_batch_size=8,
    per_device_eval_batch_size=8,
    num_train_epochs=2,
)
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("distilbert/distilbert-base-uncased")
from datasets import load_dataset

dataset = load_dataset("rotten_tomatoes")  # doctest: +IGNORE_RESULT
def tokenize_dataset(dataset):
    return tokenizer(dataset["text"])
dataset = dataset.map(tokenize_dataset, batched=True)
from transformers import DataCollatorWithPadding

data_collator = DataCollatorWithPadding(tokenizer=tokenizer)
from transformers import Trainer

trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=dataset["train"],
    eval_dataset=dataset["test"],
    processing_class=tokenizer,  # docs: tokenizer=tokenizer
    data_collator=data_collator,
)  # doctest: +SKIP
trainer.train()
""",
    checks={"log": TRAINER_LOG},
    reference="v5",
)

# ---- Pipelines for inference (tutorial) and the pipelines API page -----------------------------------------

snippet(
    "pipeline-tutorial-dataset",
    "pipeline_tutorial#using-pipelines-on-a-dataset",
    """
from transformers import pipeline

def data():
    for i in range(10):  # docs: range(1000)
        yield f"My example {i}"


pipe = pipeline(model="openai-community/gpt2")  # docs: device=0
generated_characters = 0
for out in pipe(data()):
    generated_characters += len(out[0]["generated_text"])
""",
    checks={"generated_characters": "generated_characters"},
)

snippet(
    # The tutorial's list of inputs (given there to a speech pipeline), to GPT-2: one prompt at a time in the
    # reference (GPT-2 has no pad token); workbench batches where that gives the same answers.
    "pipeline-tutorial-list-of-prompts",
    "pipeline_tutorial#pipeline-usage",
    """
from transformers import pipeline

generator = pipeline(task="text-generation", model="openai-community/gpt2")
generator(["Hello, I'm a language model,", "The quick brown fox"])
generator(["Hello, I'm a language model,", "The quick brown fox", "Paris"], do_sample=False)
generator(["Hello, I'm a language model,", "Paris is"], do_sample=False, max_new_tokens=12, return_tensors=True)
generator(["Hello, I'm a language model,", "Paris is"], num_beams=3, num_return_sequences=2, do_sample=False)
""",
)

snippet(
    "pipeline-tutorial-zero-shot",
    "pipeline_tutorial#text-pipeline",
    """
from transformers import pipeline

# This model is a `zero-shot-classification` model.
# It will classify text, except you are free to choose any label you might imagine
classifier = pipeline(model="facebook/bart-large-mnli")
classifier(
    "I have a problem with my iphone that needs to be resolved asap!!",
    candidate_labels=["urgent", "not urgent", "phone", "tablet", "computer"],
)
""",
)

snippet(
    "pipelines-key-dataset",
    "main_classes/pipelines#pipeline-batching",
    """
from transformers import pipeline
from transformers.pipelines.pt_utils import KeyDataset
import datasets

dataset = datasets.load_dataset("imdb", name="plain_text", split="unsupervised")
pipe = pipeline("text-classification")  # docs: device=0
for out in pipe(KeyDataset(dataset, "text"), batch_size=8, truncation="only_first"):
    print(out)
    # [{'label': 'POSITIVE', 'score': 0.9998743534088135}]
    # Exactly the same output as before, but the content are passed
    # as batches to the model
""",
)

snippet(
    "pipelines-torch-dataset",
    "main_classes/pipelines#pipeline-batching",
    """
from transformers import pipeline
from torch.utils.data import Dataset
from tqdm.auto import tqdm

pipe = pipeline("text-classification")  # docs: device=0


class MyDataset(Dataset):
    def __len__(self):
        return 40  # docs: 5000

    def __getitem__(self, i):
        return "This is a test"


dataset = MyDataset()

for batch_size in [1, 8]:  # docs: [1, 8, 64, 256]
    print("-" * 30)
    print(f"Streaming batch_size={batch_size}")
    for out in tqdm(pipe(dataset, batch_size=batch_size), total=len(dataset)):
        pass
""",
    checks={"last": "out"},
)

snippet(
    "pipelines-list",
    "main_classes/pipelines",
    """
from transformers import pipeline

pipe = pipeline("text-classification")
pipe(["This restaurant is awesome", "This restaurant is awful"])
""",
)

# ---- Load pretrained instances with an AutoClass; create a custom architecture -----------------------------

snippet(
    "autoclass-tokenizer-and-models",
    "autoclass_tutorial",
    """
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
sequence = "In a hole in the ground there lived a hobbit."
print(tokenizer(sequence))
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("distilbert/distilbert-base-uncased")
sequence_classification = model
from transformers import AutoModelForTokenClassification

model = AutoModelForTokenClassification.from_pretrained("distilbert/distilbert-base-uncased")
""",
    checks={
        "classes": "[type(sequence_classification).__name__, type(model).__name__]",
        "shapes": "{k: list(v.shape) for k, v in model.state_dict().items()}",
        "body": "model.distilbert(**tokenizer(sequence, return_tensors='pt', return_token_type_ids=False))[0]",
    },
)

snippet(
    "create-a-model-config-file",
    "create_a_model#configuration",
    """
from transformers import DistilBertConfig

my_config = DistilBertConfig.from_pretrained("distilbert/distilbert-base-uncased", activation="relu", attention_dropout=0.4)
my_config.save_pretrained(save_directory="./your_model_save_path")
my_config = DistilBertConfig.from_pretrained("./your_model_save_path/config.json")
from transformers import DistilBertModel

my_config = DistilBertConfig.from_pretrained("./your_model_save_path/config.json")
model = DistilBertModel(my_config)
model = DistilBertModel.from_pretrained("distilbert/distilbert-base-uncased")
model = DistilBertModel.from_pretrained("distilbert/distilbert-base-uncased", config=my_config)
""",  # noqa: E501 (the docs' own long line)
    checks={
        "config": "{k: getattr(my_config, k) for k in ('activation', 'attention_dropout', 'dim', 'n_heads')}",
        "model_config": "[model.config.activation, model.config.attention_dropout]",
    },
)

# ---- Preprocess --------------------------------------------------------------------------------------------

snippet(
    "preprocess-tokenizer",
    "preprocessing#natural-language-processing",
    """
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-cased")
encoded_input = tokenizer("Do not meddle in the affairs of wizards, for they are subtle and quick to anger.")
print(encoded_input)
tokenizer.decode(encoded_input["input_ids"])
batch_sentences = [
    "But what about second breakfast?",
    "Don't think he knows about second breakfast, Pip.",
    "What about elevensies?",
]
encoded_inputs = tokenizer(batch_sentences)
print(encoded_inputs)
encoded_input = tokenizer(batch_sentences, padding=True)
print(encoded_input)
encoded_input = tokenizer(batch_sentences, padding=True, truncation=True)
print(encoded_input)
encoded_input = tokenizer(batch_sentences, padding=True, truncation=True, return_tensors="pt")
print(encoded_input)
""",
)

# ---- Fine-tune a pretrained model --------------------------------------------------------------------------

TRAINING_DATA = """
from datasets import load_dataset

dataset = load_dataset("yelp_review_full")
dataset["train"][100]
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-cased")


def tokenize_function(examples):
    return tokenizer(examples["text"], padding="max_length", truncation=True)


tokenized_datasets = dataset.map(tokenize_function, batched=True)
small_train_dataset = tokenized_datasets["train"].shuffle(seed=42).select(range(16))  # docs: range(1000)
small_eval_dataset = tokenized_datasets["test"].shuffle(seed=42).select(range(8))  # docs: range(1000)
"""

snippet(
    "training-trainer",
    "training#train-with-pytorch-trainer",
    TRAINING_DATA
    + """
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("google-bert/bert-base-cased", num_labels=5)
from transformers import TrainingArguments

training_args = TrainingArguments(output_dir="test_trainer")
import numpy as np
import evaluate

metric = evaluate.load("accuracy")


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    predictions = np.argmax(logits, axis=-1)
    return metric.compute(predictions=predictions, references=labels)


from transformers import TrainingArguments, Trainer

training_args = TrainingArguments(output_dir="test_trainer", eval_strategy="epoch")  # docs: evaluation_strategy
trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=small_train_dataset,
    eval_dataset=small_eval_dataset,
    compute_metrics=compute_metrics,
)
trainer.train()
""",
    checks={"log": TRAINER_LOG},
    reference="v5",
)

snippet(
    "training-native-pytorch",
    "training#train-in-native-pytorch",
    TRAINING_DATA
    + """
tokenized_datasets = tokenized_datasets.remove_columns(["text"])
tokenized_datasets = tokenized_datasets.rename_column("label", "labels")
tokenized_datasets.set_format("torch")
small_train_dataset = tokenized_datasets["train"].shuffle(seed=42).select(range(16))  # docs: range(1000)
small_eval_dataset = tokenized_datasets["test"].shuffle(seed=42).select(range(8))  # docs: range(1000)
from torch.utils.data import DataLoader

train_dataloader = DataLoader(small_train_dataset, shuffle=True, batch_size=8)
eval_dataloader = DataLoader(small_eval_dataset, batch_size=8)
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("google-bert/bert-base-cased", num_labels=5)
from torch.optim import AdamW

optimizer = AdamW(model.parameters(), lr=5e-5)
from transformers import get_scheduler

num_epochs = 3
num_training_steps = num_epochs * len(train_dataloader)
lr_scheduler = get_scheduler(
    name="linear", optimizer=optimizer, num_warmup_steps=0, num_training_steps=num_training_steps
)
import torch

device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
model.to(device)
from tqdm.auto import tqdm

progress_bar = tqdm(range(num_training_steps))

model.train()
for epoch in range(num_epochs):
    for batch in train_dataloader:
        batch = {k: v.to(device) for k, v in batch.items()}
        outputs = model(**batch)
        loss = outputs.loss
        loss.backward()

        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad()
        progress_bar.update(1)
import evaluate

metric = evaluate.load("accuracy")
model.eval()
for batch in eval_dataloader:
    batch = {k: v.to(device) for k, v in batch.items()}
    with torch.no_grad():
        outputs = model(**batch)

    logits = outputs.logits
    predictions = torch.argmax(logits, dim=-1)
    metric.add_batch(predictions=predictions, references=batch["labels"])

metric.compute()
""",
    checks={"last_loss": "loss.item()", "logits": "logits"},
    reference="v5",
)

# ---- Generation with LLMs ----------------------------------------------------------------------------------

LLM_SETUP = """
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("mistralai/Mistral-7B-v0.1")  # docs: device_map="auto", load_in_4bit=True
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("mistralai/Mistral-7B-v0.1", padding_side="left")
"""

snippet(
    "llm-generate",
    "llm_tutorial#generate-text",
    LLM_SETUP
    + """
model_inputs = tokenizer(["A list of colors: red, blue"], return_tensors="pt").to("cpu")  # docs: "cuda"
generated_ids = model.generate(**model_inputs)
tokenizer.batch_decode(generated_ids, skip_special_tokens=True)[0]
""",
)

snippet(
    "llm-generate-batch",
    "llm_tutorial#generate-text",
    LLM_SETUP
    + """
tokenizer.pad_token = tokenizer.eos_token  # Most LLMs don't have a pad token by default
model_inputs = tokenizer(
    ["A list of colors: red, blue", "Portugal is"], return_tensors="pt", padding=True
).to("cpu")  # docs: "cuda"
generated_ids = model.generate(**model_inputs)
tokenizer.batch_decode(generated_ids, skip_special_tokens=True)
""",
)

snippet(
    "llm-pitfalls-length-and-sampling",
    "llm_tutorial#common-pitfalls",
    LLM_SETUP
    + """
model_inputs = tokenizer(["A sequence of numbers: 1, 2"], return_tensors="pt").to("cpu")  # docs: "cuda"

# By default, the output will contain up to 20 tokens
generated_ids = model.generate(**model_inputs)
tokenizer.batch_decode(generated_ids, skip_special_tokens=True)[0]

# Setting `max_new_tokens` allows you to control the maximum length
generated_ids = model.generate(**model_inputs, max_new_tokens=50)
tokenizer.batch_decode(generated_ids, skip_special_tokens=True)[0]
# Set seed or reproducibility -- you don't need this unless you want full reproducibility
from transformers import set_seed

set_seed(42)

model_inputs = tokenizer(["I am a cat."], return_tensors="pt").to("cpu")  # docs: "cuda"

# LLM + greedy decoding = repetitive, boring output
generated_ids = model.generate(**model_inputs)
tokenizer.batch_decode(generated_ids, skip_special_tokens=True)[0]

# With sampling, the output becomes more creative!
generated_ids = model.generate(**model_inputs, do_sample=True)
tokenizer.batch_decode(generated_ids, skip_special_tokens=True)[0]
""",
)

snippet(
    "llm-pitfalls-padding-side",
    "llm_tutorial#wrong-padding-side",
    LLM_SETUP
    + """
tokenizer = AutoTokenizer.from_pretrained("mistralai/Mistral-7B-v0.1")  # right padding, the class's default
tokenizer.pad_token = tokenizer.eos_token  # Most LLMs don't have a pad token by default
# The tokenizer initialized above has right-padding active by default: the 1st sequence,
# which is shorter, has padding on the right side. Generation fails to capture the logic.
model_inputs = tokenizer(
    ["1, 2, 3", "A, B, C, D, E"], padding=True, return_tensors="pt"
).to("cpu")  # docs: "cuda"
generated_ids = model.generate(**model_inputs)
tokenizer.batch_decode(generated_ids, skip_special_tokens=True)[0]

# With left-padding, it works as expected!
tokenizer = AutoTokenizer.from_pretrained("mistralai/Mistral-7B-v0.1", padding_side="left")
tokenizer.pad_token = tokenizer.eos_token  # Most LLMs don't have a pad token by default
model_inputs = tokenizer(
    ["1, 2, 3", "A, B, C, D, E"], padding=True, return_tensors="pt"
).to("cpu")  # docs: "cuda"
generated_ids = model.generate(**model_inputs)
tokenizer.batch_decode(generated_ids, skip_special_tokens=True)[0]
""",
)

snippet(
    "llm-pitfalls-prompt-format",
    "llm_tutorial#wrong-prompt",
    """
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

tokenizer = AutoTokenizer.from_pretrained("HuggingFaceH4/zephyr-7b-alpha")
# docs: from_pretrained(..., device_map="auto", load_in_4bit=True)
model = AutoModelForCausalLM.from_pretrained("HuggingFaceH4/zephyr-7b-alpha")
set_seed(0)
prompt = \"\"\"How many helicopters can a human eat in one sitting? Reply as a thug.\"\"\"
model_inputs = tokenizer([prompt], return_tensors="pt").to("cpu")  # docs: "cuda"
input_length = model_inputs.input_ids.shape[1]
generated_ids = model.generate(**model_inputs, max_new_tokens=20)
print(tokenizer.batch_decode(generated_ids[:, input_length:], skip_special_tokens=True)[0])
set_seed(0)
messages = [
    {
        "role": "system",
        "content": "You are a friendly chatbot who always responds in the style of a thug",
    },
    {"role": "user", "content": "How many helicopters can a human eat in one sitting?"},
]
model_inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt").to("cpu")
input_length = model_inputs.shape[1]
generated_ids = model.generate(model_inputs, do_sample=True, max_new_tokens=20)
print(tokenizer.batch_decode(generated_ids[:, input_length:], skip_special_tokens=True)[0])
""",
)

# ---- Text generation strategies ----------------------------------------------------------------------------

snippet(
    "generation-strategies-contrastive-search",
    "generation_strategies#contrastive-search",
    """
from transformers import AutoTokenizer, AutoModelForCausalLM

checkpoint = "openai-community/gpt2-large"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
model = AutoModelForCausalLM.from_pretrained(checkpoint)

prompt = "Hugging Face Company is"
inputs = tokenizer(prompt, return_tensors="pt")

outputs = model.generate(**inputs, penalty_alpha=0.6, top_k=4, max_new_tokens=100)
tokenizer.batch_decode(outputs, skip_special_tokens=True)
""",
    checks={"outputs": "outputs"},
)

snippet(
    "generation-strategies-diverse-beam-search",
    "generation_strategies#diverse-beam-search-decoding",
    """
from transformers import AutoTokenizer, AutoModelForSeq2SeqLM

checkpoint = "google-t5/t5-small"  # docs: "google/pegasus-xsum" (its vocabulary is not in the data directory)
prompt = (
    "The Permaculture Design Principles are a set of universal design principles "
    "that can be applied to any location, climate and culture, and they allow us to design "
    "the most efficient and sustainable human habitation and food production systems. "
    "Permaculture is a design system that encompasses a wide variety of disciplines, such "
    "as ecology, landscape design, environmental science and energy conservation, and the "
    "Permaculture design principles are drawn from these various disciplines. Each individual "
    "design principle itself embodies a complete conceptual framework based on sound "
    "scientific principles. When we bring all these separate  principles together, we can "
    "create a design system that both looks at whole systems, the parts that these systems "
    "consist of, and how those parts interact with each other to create a complex, dynamic, "
    "living system. Each design principle serves as a tool that allows us to integrate all "
    "the separate parts of a design, referred to as elements, into a functional, synergistic, "
    "whole system, where the elements harmoniously interact and work together in the most "
    "efficient way possible."
)

tokenizer = AutoTokenizer.from_pretrained(checkpoint)
inputs = tokenizer(prompt, return_tensors="pt")

model = AutoModelForSeq2SeqLM.from_pretrained(checkpoint)

outputs = model.generate(**inputs, num_beams=5, num_beam_groups=5, max_new_tokens=30, diversity_penalty=1.0)
tokenizer.decode(outputs[0], skip_special_tokens=True)
""",
    checks={"outputs": "outputs"},
)

# ---- Templates for chat models -----------------------------------------------------------------------------

snippet(
    "chat-templates-introduction",
    "chat_templating#introduction",
    """
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("mistralai/Mistral-7B-Instruct-v0.1")

chat = [
    {"role": "user", "content": "Hello, how are you?"},
    {"role": "assistant", "content": "I'm doing great. How can I help you today?"},
    {"role": "user", "content": "I'd like to show off how chat templating works!"},
]

tokenizer.apply_chat_template(chat, tokenize=False)
""",
)

snippet(
    "chat-templates-generate",
    "chat_templating#how-do-i-use-chat-templates",
    """
from transformers import AutoModelForCausalLM, AutoTokenizer

checkpoint = "HuggingFaceH4/zephyr-7b-beta"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
model = AutoModelForCausalLM.from_pretrained(checkpoint)  # You may want to use bfloat16 and/or move to GPU here

messages = [
    {
        "role": "system",
        "content": "You are a friendly chatbot who always responds in the style of a pirate",
    },
    {"role": "user", "content": "How many helicopters can a human eat in one sitting?"},
]
tokenized_chat = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_tensors="pt")
print(tokenizer.decode(tokenized_chat[0]))
outputs = model.generate(tokenized_chat, max_new_tokens=128)
print(tokenizer.decode(outputs[0]))
""",
)

snippet(
    "chat-templates-generation-prompt",
    "chat_templating#what-are-generation-prompts",
    """
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("HuggingFaceH4/zephyr-7b-beta")
messages = [
    {"role": "user", "content": "Hi there!"},
    {"role": "assistant", "content": "Nice to meet you!"},
    {"role": "user", "content": "Can I ask a question?"},
]
tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
""",
)

snippet(
    "chat-templates-training",
    "chat_templating#can-i-use-chat-templates-in-training",
    """
from transformers import AutoTokenizer
from datasets import Dataset

tokenizer = AutoTokenizer.from_pretrained("HuggingFaceH4/zephyr-7b-beta")

chat1 = [
    {"role": "user", "content": "Which is bigger, the moon or the sun?"},
    {"role": "assistant", "content": "The sun."},
]
chat2 = [
    {"role": "user", "content": "Which is bigger, a virus or a bacterium?"},
    {"role": "assistant", "content": "A bacterium."},
]

dataset = Dataset.from_dict({"chat": [chat1, chat2]})
dataset = dataset.map(
    lambda x: {"formatted_chat": tokenizer.apply_chat_template(x["chat"], tokenize=False, add_generation_prompt=False)}
)
print(dataset["formatted_chat"][0])
""",
    reference="v5",
)

# ---- Task guides: text classification ----------------------------------------------------------------------

snippet(
    "task-text-classification-train",
    "tasks/sequence_classification",
    """
from datasets import load_dataset

imdb = load_dataset("imdb")
imdb["test"][0]
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("distilbert/distilbert-base-uncased")
def preprocess_function(examples):
    return tokenizer(examples["text"], truncation=True)
tokenized_imdb = imdb.map(preprocess_function, batched=True)
from transformers import DataCollatorWithPadding

data_collator = DataCollatorWithPadding(tokenizer=tokenizer)
import evaluate

accuracy = evaluate.load("accuracy")
import numpy as np


def compute_metrics(eval_pred):
    predictions, labels = eval_pred
    predictions = np.argmax(predictions, axis=1)
    return accuracy.compute(predictions=predictions, references=labels)
id2label = {0: "NEGATIVE", 1: "POSITIVE"}
label2id = {"NEGATIVE": 0, "POSITIVE": 1}
from transformers import AutoModelForSequenceClassification, TrainingArguments, Trainer

model = AutoModelForSequenceClassification.from_pretrained(
    "distilbert/distilbert-base-uncased", num_labels=2, id2label=id2label, label2id=label2id
)
training_args = TrainingArguments(
    output_dir="my_awesome_model",
    learning_rate=2e-5,
    per_device_train_batch_size=16,
    per_device_eval_batch_size=16,
    num_train_epochs=2,
    weight_decay=0.01,
    eval_strategy="epoch",  # docs: evaluation_strategy
    save_strategy="epoch",
    load_best_model_at_end=True,
    # docs: push_to_hub=True
)

trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=tokenized_imdb["train"],
    eval_dataset=tokenized_imdb["test"],
    processing_class=tokenizer,  # docs: tokenizer=tokenizer
    data_collator=data_collator,
    compute_metrics=compute_metrics,
)

trainer.train()
""",
    checks={"log": TRAINER_LOG},
    reference="v5",
)

snippet(
    "task-text-classification-inference",
    "tasks/sequence_classification#inference",
    """
import torch

text = "This was a masterpiece. Not completely faithful to the books, but enthralling from beginning to end. Might be my favorite of the three."
from transformers import pipeline

classifier = pipeline("sentiment-analysis", model="stevhliu/my_awesome_model")
classifier(text)
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("stevhliu/my_awesome_model")
inputs = tokenizer(text, return_tensors="pt")
from transformers import AutoModelForSequenceClassification

model = AutoModelForSequenceClassification.from_pretrained("stevhliu/my_awesome_model")
with torch.no_grad():
    logits = model(**inputs).logits
predicted_class_id = logits.argmax().item()
model.config.id2label[predicted_class_id]
""",  # noqa: E501 (the docs' own long line)
    checks={"logits": "logits"},
)

# ---- Task guides: token classification ---------------------------------------------------------------------

snippet(
    "task-token-classification-train",
    "tasks/token_classification",
    """
from datasets import load_dataset

wnut = load_dataset("wnut_17")
wnut["train"][0]
label_list = wnut["train"].features[f"ner_tags"].feature.names
label_list
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("distilbert/distilbert-base-uncased")
example = wnut["train"][0]
tokenized_input = tokenizer(example["tokens"], is_split_into_words=True)
tokens = tokenizer.convert_ids_to_tokens(tokenized_input["input_ids"])
tokens
def tokenize_and_align_labels(examples):
    tokenized_inputs = tokenizer(examples["tokens"], truncation=True, is_split_into_words=True)

    labels = []
    for i, label in enumerate(examples[f"ner_tags"]):
        word_ids = tokenized_inputs.word_ids(batch_index=i)  # Map tokens to their respective word.
        previous_word_idx = None
        label_ids = []
        for word_idx in word_ids:  # Set the special tokens to -100.
            if word_idx is None:
                label_ids.append(-100)
            elif word_idx != previous_word_idx:  # Only label the first token of a given word.
                label_ids.append(label[word_idx])
            else:
                label_ids.append(-100)
            previous_word_idx = word_idx
        labels.append(label_ids)

    tokenized_inputs["labels"] = labels
    return tokenized_inputs
tokenized_wnut = wnut.map(tokenize_and_align_labels, batched=True)
from transformers import DataCollatorForTokenClassification

data_collator = DataCollatorForTokenClassification(tokenizer=tokenizer)
# docs: the seqeval metric and compute_metrics (seqeval is not installed)
id2label = {
    0: "O",
    1: "B-corporation",
    2: "I-corporation",
    3: "B-creative-work",
    4: "I-creative-work",
    5: "B-group",
    6: "I-group",
    7: "B-location",
    8: "I-location",
    9: "B-person",
    10: "I-person",
    11: "B-product",
    12: "I-product",
}
label2id = {
    "O": 0,
    "B-corporation": 1,
    "I-corporation": 2,
    "B-creative-work": 3,
    "I-creative-work": 4,
    "B-group": 5,
    "I-group": 6,
    "B-location": 7,
    "I-location": 8,
    "B-person": 9,
    "I-person": 10,
    "B-product": 11,
    "I-product": 12,
}
from transformers import AutoModelForTokenClassification, TrainingArguments, Trainer

model = AutoModelForTokenClassification.from_pretrained(
    "distilbert/distilbert-base-uncased", num_labels=13, id2label=id2label, label2id=label2id
)
training_args = TrainingArguments(
    output_dir="my_awesome_wnut_model",
    learning_rate=2e-5,
    per_device_train_batch_size=16,
    per_device_eval_batch_size=16,
    num_train_epochs=2,
    weight_decay=0.01,
    eval_strategy="epoch",  # docs: evaluation_strategy
    save_strategy="epoch",
    load_best_model_at_end=True,
    # docs: push_to_hub=True
)

trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=tokenized_wnut["train"],
    eval_dataset=tokenized_wnut["test"],
    processing_class=tokenizer,  # docs: tokenizer=tokenizer
    data_collator=data_collator,
)

trainer.train()
""",
    checks={"log": TRAINER_LOG, "labels": "tokenized_wnut['train']['labels']"},
    reference="v5",
)

snippet(
    "task-token-classification-inference",
    "tasks/token_classification#inference",
    """
import torch

text = "The Golden State Warriors are an American professional basketball team based in San Francisco."
from transformers import pipeline

classifier = pipeline("ner", model="stevhliu/my_awesome_wnut_model")
classifier(text)
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("stevhliu/my_awesome_wnut_model")
inputs = tokenizer(text, return_tensors="pt")
from transformers import AutoModelForTokenClassification

model = AutoModelForTokenClassification.from_pretrained("stevhliu/my_awesome_wnut_model")
with torch.no_grad():
    logits = model(**inputs).logits
predictions = torch.argmax(logits, dim=2)
predicted_token_class = [model.config.id2label[t.item()] for t in predictions[0]]
predicted_token_class
""",
)

# ---- Task guides: question answering -----------------------------------------------------------------------

snippet(
    "task-question-answering-train",
    "tasks/question_answering",
    """
from datasets import load_dataset

squad = load_dataset("squad", split="train[:5000]")
squad = squad.train_test_split(test_size=0.2)
squad["train"][0]
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("distilbert/distilbert-base-uncased")
def preprocess_function(examples):
    questions = [q.strip() for q in examples["question"]]
    inputs = tokenizer(
        questions,
        examples["context"],
        max_length=384,
        truncation="only_second",
        return_offsets_mapping=True,
        padding="max_length",
    )

    offset_mapping = inputs.pop("offset_mapping")
    answers = examples["answers"]
    start_positions = []
    end_positions = []

    for i, offset in enumerate(offset_mapping):
        answer = answers[i]
        start_char = answer["answer_start"][0]
        end_char = answer["answer_start"][0] + len(answer["text"][0])
        sequence_ids = inputs.sequence_ids(i)

        # Find the start and end of the context
        idx = 0
        while sequence_ids[idx] != 1:
            idx += 1
        context_start = idx
        while sequence_ids[idx] == 1:
            idx += 1
        context_end = idx - 1

        # If the answer is not fully inside the context, label it (0, 0)
        if offset[context_start][0] > end_char or offset[context_end][1] < start_char:
            start_positions.append(0)
            end_positions.append(0)
        else:
            # Otherwise it's the start and end token positions
            idx = context_start
            while idx <= context_end and offset[idx][0] <= start_char:
                idx += 1
            start_positions.append(idx - 1)

            idx = context_end
            while idx >= context_start and offset[idx][1] >= end_char:
                idx -= 1
            end_positions.append(idx + 1)

    inputs["start_positions"] = start_positions
    inputs["end_positions"] = end_positions
    return inputs
tokenized_squad = squad.map(preprocess_function, batched=True, remove_columns=squad["train"].column_names)
from transformers import DefaultDataCollator

data_collator = DefaultDataCollator()
from transformers import AutoModelForQuestionAnswering, TrainingArguments, Trainer

model = AutoModelForQuestionAnswering.from_pretrained("distilbert/distilbert-base-uncased")
training_args = TrainingArguments(
    output_dir="my_awesome_qa_model",
    eval_strategy="epoch",  # docs: evaluation_strategy
    learning_rate=2e-5,
    per_device_train_batch_size=16,
    per_device_eval_batch_size=16,
    num_train_epochs=3,
    weight_decay=0.01,
    # docs: push_to_hub=True
)

trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=tokenized_squad["train"],
    eval_dataset=tokenized_squad["test"],
    processing_class=tokenizer,  # docs: tokenizer=tokenizer
    data_collator=data_collator,
)

trainer.train()
""",
    checks={
        "log": TRAINER_LOG,
        "positions": "[tokenized_squad['train']['start_positions'], tokenized_squad['train']['end_positions']]",
    },
    reference="v5",
)

snippet(
    "task-question-answering-inference",
    "tasks/question_answering#inference",
    """
import torch

question = "How many programming languages does BLOOM support?"
context = "BLOOM has 176 billion parameters and can generate text in 46 languages natural languages and 13 programming languages."
from transformers import pipeline

question_answerer = pipeline("question-answering", model="my_awesome_qa_model")
question_answerer(question=question, context=context)
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("my_awesome_qa_model")
inputs = tokenizer(question, context, return_tensors="pt")
from transformers import AutoModelForQuestionAnswering

model = AutoModelForQuestionAnswering.from_pretrained("my_awesome_qa_model")
with torch.no_grad():
    outputs = model(**inputs)
answer_start_index = outputs.start_logits.argmax()
answer_end_index = outputs.end_logits.argmax()
predict_answer_tokens = inputs.input_ids[0, answer_start_index : answer_end_index + 1]
tokenizer.decode(predict_answer_tokens)
""",  # noqa: E501 (the docs' own long line)
)

# ---- Task guides: causal and masked language modeling ------------------------------------------------------

GROUP_TEXTS = """
block_size = 128


def group_texts(examples):
    # Concatenate all texts.
    concatenated_examples = {k: sum(examples[k], []) for k in examples.keys()}
    total_length = len(concatenated_examples[list(examples.keys())[0]])
    # We drop the small remainder, we could add padding if the model supported it instead of this drop, you can
    # customize this part to your needs.
    if total_length >= block_size:
        total_length = (total_length // block_size) * block_size
    # Split by chunks of block_size.
    result = {
        k: [t[i : i + block_size] for i in range(0, total_length, block_size)]
        for k, t in concatenated_examples.items()
    }
    result["labels"] = result["input_ids"].copy()
    return result
"""

snippet(
    "task-causal-lm-train",
    "tasks/language_modeling",
    """
from datasets import load_dataset

eli5 = load_dataset("eli5_category", split="train[:5000]")
eli5 = eli5.train_test_split(test_size=0.2)
eli5["train"][0]
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("distilbert/distilgpt2")
eli5 = eli5.flatten()
eli5["train"][0]
def preprocess_function(examples):
    return tokenizer([" ".join(x) for x in examples["answers.text"]])
tokenized_eli5 = eli5.map(
    preprocess_function,
    batched=True,
    remove_columns=eli5["train"].column_names,  # docs: num_proc=4
)
"""
    + GROUP_TEXTS
    + """
lm_dataset = tokenized_eli5.map(group_texts, batched=True)  # docs: num_proc=4
from transformers import DataCollatorForLanguageModeling

tokenizer.pad_token = tokenizer.eos_token
data_collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=False)
from transformers import AutoModelForCausalLM, TrainingArguments, Trainer

model = AutoModelForCausalLM.from_pretrained("distilbert/distilgpt2")
training_args = TrainingArguments(
    output_dir="my_awesome_eli5_clm-model",
    eval_strategy="epoch",  # docs: evaluation_strategy
    learning_rate=2e-5,
    weight_decay=0.01,
    # docs: push_to_hub=True
)

trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=lm_dataset["train"],
    eval_dataset=lm_dataset["test"],
    data_collator=data_collator,
)

trainer.train()
import math

eval_results = trainer.evaluate()
print(f"Perplexity: {math.exp(eval_results['eval_loss']):.2f}")
""",
    checks={
        # The v5 reference divides a causal LM's summed loss by the number of labels before the shift (128 a block),
        # the docs' v4.37 and workbench by the number of predicted tokens (127): the losses differ by that factor.
        # Adam's steps hardly depend on it, so the trained models agree: their loss on a block is compared instead.
        "steps": TRAINER_STEPS,
        "trained": "float(model(**data_collator([lm_dataset['test'][0]])).loss)",
        "blocks": "len(lm_dataset['train'])",
    },
    reference="v5",
    compare_printed=False,
)

snippet(
    "task-causal-lm-inference",
    "tasks/language_modeling#inference",
    """
prompt = "Somatic hypermutation allows the immune system to"
from transformers import pipeline

generator = pipeline("text-generation", model="username/my_awesome_eli5_clm-model")
generator(prompt)
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("username/my_awesome_eli5_clm-model")
inputs = tokenizer(prompt, return_tensors="pt").input_ids
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("username/my_awesome_eli5_clm-model")
outputs = model.generate(inputs, max_new_tokens=100, do_sample=True, top_k=50, top_p=0.95)
tokenizer.batch_decode(outputs, skip_special_tokens=True)
""",
)

snippet(
    "task-masked-lm-train",
    "tasks/masked_language_modeling",
    """
from datasets import load_dataset

eli5 = load_dataset("eli5_category", split="train[:5000]")
eli5 = eli5.train_test_split(test_size=0.2)
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("distilbert/distilroberta-base")
eli5 = eli5.flatten()
def preprocess_function(examples):
    return tokenizer([" ".join(x) for x in examples["answers.text"]])
tokenized_eli5 = eli5.map(
    preprocess_function,
    batched=True,
    remove_columns=eli5["train"].column_names,  # docs: num_proc=4
)
"""
    + GROUP_TEXTS
    + """
lm_dataset = tokenized_eli5.map(group_texts, batched=True)  # docs: num_proc=4
from transformers import DataCollatorForLanguageModeling

tokenizer.pad_token = tokenizer.eos_token
data_collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm_probability=0.15)
from transformers import AutoModelForMaskedLM

model = AutoModelForMaskedLM.from_pretrained("distilbert/distilroberta-base")
from transformers import TrainingArguments, Trainer

training_args = TrainingArguments(
    output_dir="my_awesome_eli5_mlm_model",
    eval_strategy="epoch",  # docs: evaluation_strategy
    learning_rate=2e-5,
    num_train_epochs=3,
    weight_decay=0.01,
    # docs: push_to_hub=True
)

trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=lm_dataset["train"],
    eval_dataset=lm_dataset["test"],
    data_collator=data_collator,
)

trainer.train()
import math

eval_results = trainer.evaluate()
print(f"Perplexity: {math.exp(eval_results['eval_loss']):.2f}")
""",
    # Which tokens the collator masks is drawn at random, differently in each library: the losses differ.
    checks={"steps": TRAINER_STEPS, "blocks": "len(lm_dataset['train'])"},
    reference="v5",
    compare_printed=False,
)

snippet(
    "task-masked-lm-inference",
    "tasks/masked_language_modeling#inference",
    """
import torch

text = "The Milky Way is a <mask> galaxy."
from transformers import pipeline

mask_filler = pipeline("fill-mask", "username/my_awesome_eli5_mlm_model")
mask_filler(text, top_k=3)
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("username/my_awesome_eli5_mlm_model")
inputs = tokenizer(text, return_tensors="pt")
mask_token_index = torch.where(inputs["input_ids"] == tokenizer.mask_token_id)[1]
from transformers import AutoModelForMaskedLM

model = AutoModelForMaskedLM.from_pretrained("username/my_awesome_eli5_mlm_model")
logits = model(**inputs).logits
mask_token_logits = logits[0, mask_token_index, :]
top_3_tokens = torch.topk(mask_token_logits, 3, dim=1).indices[0].tolist()

for token in top_3_tokens:
    print(text.replace(tokenizer.mask_token, tokenizer.decode([token])))
""",
)

# ---- Task guides: translation and summarization ------------------------------------------------------------

snippet(
    "task-translation-train",
    "tasks/translation",
    """
from datasets import load_dataset

books = load_dataset("opus_books", "en-fr")
books = books["train"].train_test_split(test_size=0.2)
books["train"][0]
from transformers import AutoTokenizer

checkpoint = "google-t5/t5-small"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
source_lang = "en"
target_lang = "fr"
prefix = "translate English to French: "


def preprocess_function(examples):
    inputs = [prefix + example[source_lang] for example in examples["translation"]]
    targets = [example[target_lang] for example in examples["translation"]]
    model_inputs = tokenizer(inputs, text_target=targets, max_length=128, truncation=True)
    return model_inputs
tokenized_books = books.map(preprocess_function, batched=True)
from transformers import DataCollatorForSeq2Seq

data_collator = DataCollatorForSeq2Seq(tokenizer=tokenizer, model=checkpoint)
# docs: the sacrebleu metric and compute_metrics (sacrebleu is not installed)
from transformers import AutoModelForSeq2SeqLM, Seq2SeqTrainingArguments, Seq2SeqTrainer

model = AutoModelForSeq2SeqLM.from_pretrained(checkpoint)
training_args = Seq2SeqTrainingArguments(
    output_dir="my_awesome_opus_books_model",
    eval_strategy="epoch",  # docs: evaluation_strategy
    learning_rate=2e-5,
    per_device_train_batch_size=16,
    per_device_eval_batch_size=16,
    weight_decay=0.01,
    save_total_limit=3,
    num_train_epochs=2,
    predict_with_generate=True,
    # docs: fp16=True, push_to_hub=True
)

trainer = Seq2SeqTrainer(
    model=model,
    args=training_args,
    train_dataset=tokenized_books["train"],
    eval_dataset=tokenized_books["test"],
    processing_class=tokenizer,  # docs: tokenizer=tokenizer
    data_collator=data_collator,
)

trainer.train()
""",
    checks={"log": TRAINER_LOG, "labels": "tokenized_books['train']['labels']"},
    reference="v5",
)

snippet(
    "task-translation-inference",
    "tasks/translation#inference",
    """
text = "translate English to French: Legumes share resources with nitrogen-fixing bacteria."
from transformers import pipeline

translator = pipeline("translation", model="my_awesome_opus_books_model")
translator(text)
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("my_awesome_opus_books_model")
inputs = tokenizer(text, return_tensors="pt").input_ids
from transformers import AutoModelForSeq2SeqLM

model = AutoModelForSeq2SeqLM.from_pretrained("my_awesome_opus_books_model")
outputs = model.generate(inputs, max_new_tokens=40, do_sample=True, top_k=30, top_p=0.95)
tokenizer.decode(outputs[0], skip_special_tokens=True)
""",
)

snippet(
    # The translation task as pipeline() names it with its languages: T5's task_specific_params for en->fr
    # (prefix, 4 beams, max_length 300) apply.
    "translation-en-to-fr-pipeline",
    "task_summary#translation",
    """
from transformers import pipeline

text = "translate English to French: Hugging Face is a community-based open-source platform for machine learning."
translator = pipeline(task="translation", model="google-t5/t5-small")
translator(text)
translator = pipeline("translation_en_to_fr", model="google-t5/t5-small")
translator("How old are you?")
translator(["How old are you?", "The house is wonderful."], max_length=20)
""",
)

snippet(
    "task-summarization-train",
    "tasks/summarization",
    """
from datasets import load_dataset

billsum = load_dataset("billsum", split="ca_test")
billsum = billsum.train_test_split(test_size=0.2)
billsum["train"][0]
from transformers import AutoTokenizer

checkpoint = "google-t5/t5-small"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
prefix = "summarize: "


def preprocess_function(examples):
    inputs = [prefix + doc for doc in examples["text"]]
    model_inputs = tokenizer(inputs, max_length=1024, truncation=True)

    labels = tokenizer(text_target=examples["summary"], max_length=128, truncation=True)

    model_inputs["labels"] = labels["input_ids"]
    return model_inputs
tokenized_billsum = billsum.map(preprocess_function, batched=True)
from transformers import DataCollatorForSeq2Seq

data_collator = DataCollatorForSeq2Seq(tokenizer=tokenizer, model=checkpoint)
# docs: the rouge metric and compute_metrics (rouge_score is not installed)
from transformers import AutoModelForSeq2SeqLM, Seq2SeqTrainingArguments, Seq2SeqTrainer

model = AutoModelForSeq2SeqLM.from_pretrained(checkpoint)
training_args = Seq2SeqTrainingArguments(
    output_dir="my_awesome_billsum_model",
    eval_strategy="epoch",  # docs: evaluation_strategy
    learning_rate=2e-5,
    per_device_train_batch_size=16,
    per_device_eval_batch_size=16,
    weight_decay=0.01,
    save_total_limit=3,
    num_train_epochs=4,
    predict_with_generate=True,
    # docs: fp16=True, push_to_hub=True
)

trainer = Seq2SeqTrainer(
    model=model,
    args=training_args,
    train_dataset=tokenized_billsum["train"],
    eval_dataset=tokenized_billsum["test"],
    processing_class=tokenizer,  # docs: tokenizer=tokenizer
    data_collator=data_collator,
)

trainer.train()
""",
    checks={"log": TRAINER_LOG},
    reference="v5",
)

snippet(
    "task-summarization-inference",
    "tasks/summarization#inference",
    """
text = "summarize: The Inflation Reduction Act lowers prescription drug costs, health care costs, and energy costs. It's the most aggressive action on tackling the climate crisis in American history, which will lift up American workers and create good-paying union jobs across the country. It'll lower the deficit and ask the ultra-wealthy and corporations to pay their fair share. And no one making under $400,000 per year will pay a penny more in taxes."
from transformers import pipeline

summarizer = pipeline("summarization", model="stevhliu/my_awesome_billsum_model")
summarizer(text)
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("stevhliu/my_awesome_billsum_model")
inputs = tokenizer(text, return_tensors="pt").input_ids
from transformers import AutoModelForSeq2SeqLM

model = AutoModelForSeq2SeqLM.from_pretrained("stevhliu/my_awesome_billsum_model")
outputs = model.generate(inputs, max_new_tokens=100, do_sample=False)
tokenizer.decode(outputs[0], skip_special_tokens=True)
""",  # noqa: E501 (the docs' own long line)
)

# ---- Task guides: multiple choice --------------------------------------------------------------------------

snippet(
    "task-multiple-choice-train",
    "tasks/multiple_choice",
    """
from datasets import load_dataset

swag = load_dataset("swag", "regular")
swag["train"][0]
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
ending_names = ["ending0", "ending1", "ending2", "ending3"]


def preprocess_function(examples):
    first_sentences = [[context] * 4 for context in examples["sent1"]]
    question_headers = examples["sent2"]
    second_sentences = [
        [f"{header} {examples[end][i]}" for end in ending_names] for i, header in enumerate(question_headers)
    ]

    first_sentences = sum(first_sentences, [])
    second_sentences = sum(second_sentences, [])

    tokenized_examples = tokenizer(first_sentences, second_sentences, truncation=True)
    return {k: [v[i : i + 4] for i in range(0, len(v), 4)] for k, v in tokenized_examples.items()}
tokenized_swag = swag.map(preprocess_function, batched=True)
from dataclasses import dataclass
from transformers.tokenization_utils_base import PreTrainedTokenizerBase, PaddingStrategy
from typing import Optional, Union
import torch


@dataclass
class DataCollatorForMultipleChoice:
    \"\"\"
    Data collator that will dynamically pad the inputs for multiple choice received.
    \"\"\"

    tokenizer: PreTrainedTokenizerBase
    padding: Union[bool, str, PaddingStrategy] = True
    max_length: Optional[int] = None
    pad_to_multiple_of: Optional[int] = None

    def __call__(self, features):
        label_name = "label" if "label" in features[0].keys() else "labels"
        labels = [feature.pop(label_name) for feature in features]
        batch_size = len(features)
        num_choices = len(features[0]["input_ids"])
        flattened_features = [
            [{k: v[i] for k, v in feature.items()} for i in range(num_choices)] for feature in features
        ]
        flattened_features = sum(flattened_features, [])

        batch = self.tokenizer.pad(
            flattened_features,
            padding=self.padding,
            max_length=self.max_length,
            pad_to_multiple_of=self.pad_to_multiple_of,
            return_tensors="pt",
        )

        batch = {k: v.view(batch_size, num_choices, -1) for k, v in batch.items()}
        batch["labels"] = torch.tensor(labels, dtype=torch.int64)
        return batch
import evaluate

accuracy = evaluate.load("accuracy")
import numpy as np


def compute_metrics(eval_pred):
    predictions, labels = eval_pred
    predictions = np.argmax(predictions, axis=1)
    return accuracy.compute(predictions=predictions, references=labels)
from transformers import AutoModelForMultipleChoice, TrainingArguments, Trainer

model = AutoModelForMultipleChoice.from_pretrained("google-bert/bert-base-uncased")
training_args = TrainingArguments(
    output_dir="my_awesome_swag_model",
    eval_strategy="epoch",  # docs: evaluation_strategy
    save_strategy="epoch",
    load_best_model_at_end=True,
    learning_rate=5e-5,
    per_device_train_batch_size=16,
    per_device_eval_batch_size=16,
    num_train_epochs=3,
    weight_decay=0.01,
    # docs: push_to_hub=True
)

trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=tokenized_swag["train"],
    eval_dataset=tokenized_swag["validation"],
    processing_class=tokenizer,  # docs: tokenizer=tokenizer
    data_collator=DataCollatorForMultipleChoice(tokenizer=tokenizer),
    compute_metrics=compute_metrics,
)

trainer.train()
""",
    checks={"log": TRAINER_LOG},
    reference="v5",
)

snippet(
    "task-multiple-choice-inference",
    "tasks/multiple_choice#inference",
    """
import torch

prompt = "France has a bread law, Le Décret Pain, with strict rules on what is allowed in a traditional baguette."
candidate1 = "The law does not apply to croissants and brioche."
candidate2 = "The law applies to baguettes."
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("my_awesome_swag_model")
inputs = tokenizer([[prompt, candidate1], [prompt, candidate2]], return_tensors="pt", padding=True)
labels = torch.tensor(0).unsqueeze(0)
from transformers import AutoModelForMultipleChoice

model = AutoModelForMultipleChoice.from_pretrained("my_awesome_swag_model")
outputs = model(**{k: v.unsqueeze(0) for k, v in inputs.items()}, labels=labels)
logits = outputs.logits
predicted_class = logits.argmax().item()
predicted_class
""",
    checks={"logits": "logits", "loss": "outputs.loss"},
)
