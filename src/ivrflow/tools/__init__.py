"""Command-line tools: simulate and its virtual switch, graph, sounds prepare."""
