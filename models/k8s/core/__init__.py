"""core/v1 kinds: Pod (``pod``), Node (``node``), and the rest as they are added."""
