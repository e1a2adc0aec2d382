"""Certificate Transparency: the log list, embedded SCTs and the policy."""
