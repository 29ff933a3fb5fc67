//! A JSON Schema validator for tool arguments: the subset of JSON Schema that tool definitions
//! use (`type`, `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`,
//! `minimum`/`maximum` (+ exclusive), `minLength`/`maxLength`, `minItems`/`maxItems`, `anyOf`,
//! `oneOf`, `allOf`). Keywords outside the subset (`pattern`, `format`, `$ref`…) are ignored,
//! never rejected. Errors name the path of the offending value, e.g.
//! `arguments.sizes[1]: expected integer, got string "big"`, so a model can correct its call.

use serde_json::Value;

/// Checks `value` against `schema`; the error names the first offending path.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "arguments")
}

/// Whether `schema` is usable as a tool's arguments schema: an object schema.
pub fn check_tool_schema(schema: &Value) -> Result<(), String> {
    let Some(object) = schema.as_object() else { return Err("the schema is not a JSON object".to_owned()) };
    match object.get("type") {
        Some(Value::String(t)) if t == "object" => Ok(()),
        _ => Err("the schema's type must be \"object\"".to_owned()),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn describe(value: &Value) -> String {
    let text = value.to_string();
    let short: String = text.chars().take(40).collect();
    let ellipsis = if short.len() < text.len() { "…" } else { "" };
    format!("{} {short}{ellipsis}", kind(value))
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "number" => value.is_number(),
        // 3.0 is an integer for JSON Schema.
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        other => kind(value) == other,
    }
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        // `true` accepts everything; `false` nothing.
        return if schema == &Value::Bool(false) { Err(format!("{path}: no value is allowed here")) } else { Ok(()) };
    };
    if let Some(expected) = schema.get("type") {
        let names: Vec<&str> = match expected {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.is_empty() && !names.iter().any(|name| type_matches(name, value)) {
            return Err(format!("{path}: expected {}, got {}", names.join(" or "), describe(value)));
        }
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        return Err(format!("{path}: must be {constant}, got {}", describe(value)));
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        return Err(format!("{path}: must be one of {}, got {}", list.join(", "), describe(value)));
    }
    check_bounds(schema, value, path)?;
    match value {
        Value::Object(object) => check_object(schema, object, path)?,
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{path}[{index}]"))?;
                }
            }
        }
        _ => {}
    }
    check_combinators(schema, value, path)
}

fn check_bounds(schema: &serde_json::Map<String, Value>, value: &Value, path: &str) -> Result<(), String> {
    let number = |key: &str| schema.get(key).and_then(Value::as_f64);
    let count = |key: &str| schema.get(key).and_then(Value::as_u64);
    if let Some(n) = value.as_f64() {
        if let Some(min) = number("minimum").filter(|min| n < *min) {
            return Err(format!("{path}: must be at least {min}, got {n}"));
        }
        if let Some(max) = number("maximum").filter(|max| n > *max) {
            return Err(format!("{path}: must be at most {max}, got {n}"));
        }
        if let Some(min) = number("exclusiveMinimum").filter(|min| n <= *min) {
            return Err(format!("{path}: must be greater than {min}, got {n}"));
        }
        if let Some(max) = number("exclusiveMaximum").filter(|max| n >= *max) {
            return Err(format!("{path}: must be less than {max}, got {n}"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if let Some(min) = count("minLength").filter(|min| length < *min) {
            return Err(format!("{path}: must have at least {min} characters, got {length}"));
        }
        if let Some(max) = count("maxLength").filter(|max| length > *max) {
            return Err(format!("{path}: must have at most {max} characters, got {length}"));
        }
    }
    if let Some(items) = value.as_array() {
        let length = items.len() as u64;
        if let Some(min) = count("minItems").filter(|min| length < *min) {
            return Err(format!("{path}: must have at least {min} items, got {length}"));
        }
        if let Some(max) = count("maxItems").filter(|max| length > *max) {
            return Err(format!("{path}: must have at most {max} items, got {length}"));
        }
    }
    Ok(())
}

fn check_object(
    schema: &serde_json::Map<String, Value>,
    object: &serde_json::Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                return Err(format!("{path}: missing required property \"{name}\""));
            }
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (name, item) in object {
        let item_path = format!("{path}.{name}");
        match properties.and_then(|p| p.get(name)) {
            Some(property_schema) => check(property_schema, item, &item_path)?,
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    let mut known: Vec<&str> =
                        properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                    known.sort_unstable();
                    return Err(format!("{path}: unknown property \"{name}\" (allowed: {})", known.join(", ")));
                }
                Some(extra @ Value::Object(_)) => check(extra, item, &item_path)?,
                _ => {}
            },
        }
    }
    Ok(())
}

fn check_combinators(schema: &serde_json::Map<String, Value>, value: &Value, path: &str) -> Result<(), String> {
    if let Some(Value::Array(all)) = schema.get("allOf") {
        for sub in all {
            check(sub, value, path)?;
        }
    }
    if let Some(Value::Array(any)) = schema.get("anyOf") {
        let errors: Vec<String> = any.iter().filter_map(|sub| check(sub, value, path).err()).collect();
        if errors.len() == any.len() && !any.is_empty() {
            return Err(format!("{path}: matches none of the allowed forms ({})", errors.join("; ")));
        }
    }
    if let Some(Value::Array(one)) = schema.get("oneOf") {
        let matching = one.iter().filter(|sub| check(sub, value, path).is_ok()).count();
        if matching != 1 && !one.is_empty() {
            return Err(format!("{path}: must match exactly one allowed form, matches {matching}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn creatives_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "headline": {"type": "string", "minLength": 1, "maxLength": 90},
                "sizes": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
                "tone": {"enum": ["bold", "calm"]},
                "logo": {"type": ["string", "null"]}
            },
            "required": ["headline"],
            "additionalProperties": false
        })
    }

    #[test]
    fn valid_arguments_pass() {
        let schema = creatives_schema();
        validate(&schema, &json!({"headline": "Wake up", "sizes": [1, 2.0], "tone": "bold", "logo": null}))
            .expect("valid");
    }

    #[test]
    fn errors_name_the_path_and_what_was_expected() {
        let schema = creatives_schema();
        let cases = [
            (json!({}), "arguments: missing required property \"headline\""),
            (json!({"headline": 3}), "arguments.headline: expected string, got integer 3"),
            (json!({"headline": ""}), "arguments.headline: must have at least 1 characters, got 0"),
            (json!({"headline": "a", "sizes": [1, "big"]}), "arguments.sizes[1]: expected integer, got string \"big\""),
            (json!({"headline": "a", "sizes": [0]}), "arguments.sizes[0]: must be at least 1, got 0"),
            (json!({"headline": "a", "sizes": []}), "arguments.sizes: must have at least 1 items, got 0"),
            (
                json!({"headline": "a", "tone": "loud"}),
                "arguments.tone: must be one of \"bold\", \"calm\", got string \"loud\"",
            ),
            (
                json!({"headline": "a", "colour": "red"}),
                "arguments: unknown property \"colour\" (allowed: headline, logo, sizes, tone)",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(validate(&schema, &value).expect_err("invalid"), expected);
        }
    }

    #[test]
    fn combinators_and_booleans() {
        let schema = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        validate(&schema, &json!("x")).expect("string");
        assert!(validate(&schema, &json!(true)).is_err());
        let schema = json!({"oneOf": [{"type": "number"}, {"type": "integer"}]});
        assert!(validate(&schema, &json!(1)).is_err(), "1 matches both");
        validate(&schema, &json!(1.5)).expect("only number");
        validate(&json!(true), &json!({"any": 1})).expect("true schema");
        assert!(validate(&json!(false), &json!(1)).is_err());
        assert!(check_tool_schema(&json!({"type": "string"})).is_err());
        check_tool_schema(&creatives_schema()).expect("object schema");
    }
}
