-- Provider options used by some provider types (Anthropic default max_tokens, Vertex AI
-- project, location and token URL), as a JSON object.
ALTER TABLE providers ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
