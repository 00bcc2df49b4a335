"""Bundled provider definitions: one TOML file per provider (see `extractors.registry`)."""
