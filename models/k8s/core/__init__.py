"""core/v1 kinds: Pod (``pod``), Node (``node``), Service and Endpoints (``service``),
Namespace, Event and Binding (``namespace``), ObjectReference (``reference``)."""
