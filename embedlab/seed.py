"""The lesson's data (../shared/seed, "Lesson 9: Embeddings Deep Dive"): the app's defaults and first tests.

Everything here is plain data, so pages, the command line and tests share one copy.
"""

from __future__ import annotations

#: Experiment 1.1: sixteen sentences in four topics, ``(label, sentence)``.
LABELLED_SENTENCES: tuple[tuple[str, str], ...] = (
    ("Animals", "The cat sits on the mat"),
    ("Animals", "Dogs are loyal companions"),
    ("Animals", "The bird flew over the tree"),
    ("Animals", "Lions hunt in the savannah"),
    ("Technology", "The computer crashed again"),
    ("Technology", "Python is a great programming language"),
    ("Technology", "Artificial intelligence is the future"),
    ("Technology", "My smartphone battery is dead"),
    ("Food", "The pizza tastes delicious"),
    ("Food", "I love eating sushi for dinner"),
    ("Food", "Vegetables are healthy for you"),
    ("Food", "The cake was too sweet"),
    ("Emotions", "I feel so happy today"),
    ("Emotions", "This makes me very angry"),
    ("Emotions", "She is sad about the news"),
    ("Emotions", "They feel overwhelmed"),
)
SENTENCES: tuple[str, ...] = tuple(text for _, text in LABELLED_SENTENCES)
LABELS: tuple[str, ...] = tuple(label for label, _ in LABELLED_SENTENCES)

#: Experiment 2.1: five chatbot-trace texts; the benchmark corpus is these ×20 (100 texts).
TRACE_TEXTS: tuple[str, ...] = (
    "User expressed anxiety about work deadlines and feeling overwhelmed",
    "Bot suggested breaking down tasks into smaller steps",
    "User felt relieved after discussing the plan",
    "Bot reminded user to take breaks",
    "Previous discussion about coping with stress and pressure",
)
BENCHMARK_REPEAT = 20
BENCHMARK_CORPUS: tuple[str, ...] = TRACE_TEXTS * BENCHMARK_REPEAT

#: Experiment 2.1's models: the small default and the medium one.
BENCHMARK_MODELS: tuple[str, ...] = ("all-MiniLM-L6-v2", "all-mpnet-base-v2")

#: Experiment 4.1: the trace database.
TRACES: tuple[dict, ...] = (
    {
        "id": 0,
        "query_pattern": "User is stressed about work",
        "approach": "Validate feelings -> Break down problem -> Suggest small step",
        "tools_used": ["empathy_engine", "planner"],
    },
    {
        "id": 1,
        "query_pattern": "User wants to learn a new skill",
        "approach": "Assess current level -> Recommend resources -> Set goal",
        "tools_used": ["resource_finder", "goal_setter"],
    },
    {
        "id": 2,
        "query_pattern": "User asks about past conversation",
        "approach": "Search memory -> Summarize context -> Answer specific question",
        "tools_used": ["memory_search", "summarizer"],
    },
)
#: How a trace becomes text, exactly as the lesson formats it (``tools_used`` as a Python list).
TRACE_TEMPLATE = "Query: {query_pattern}\nApproach: {approach}\nTools: {tools_used}"

#: Test queries and the trace id each should retrieve first.
QUERIES: tuple[str, ...] = (
    "I'm feeling stressed about my job",
    "I want to learn how to code python",
    "What did I mention last Tuesday?",
)
EXPECTED: tuple[int, ...] = (0, 1, 2)

#: The lesson's decision framework: upgrade only if retrieval quality is below this.
GOOD_ENOUGH_ACCURACY = 0.8
