//! The scenario file: model, parsing with positions, validation, JSON Schema.
