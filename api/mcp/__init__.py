"""The MCP face: tools, resources and prompts over the producer client, for AI assistants."""
