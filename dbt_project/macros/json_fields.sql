{#- Text fields of a JSON column, read with one parse of each document (decision D46).

    `json_fields(relation, fields, column='payload')` is a whole `select`: every column of `relation`
    plus one varchar column per entry of `fields`, which maps an output column name to a path in the
    document: a key of the top-level object (`'createdAt'`), or a list of object keys and array indexes
    (`['properties', 'email']`, `['event_memberships', 0, 'user']`). Each field is exactly what
    `column -> ... ->> last` gives: a string unquoted, a number, boolean, object or array as its JSON
    text, null when the path is missing or holds JSON null. Use it as the body of a CTE:

        fields as (
        {{ json_fields('source', {'created_at_raw': 'createdAt', 'email_raw': ['properties', 'email']}) }}
        ),

    DuckDB: `->>` is `json_extract_string` with one path, and every call parses the whole document
    again; the list form `json_extract_string(column, [path, ...])` parses it once and returns the
    values in path order. PostgreSQL (jsonb, stored parsed): the `->`/`->>` chain per field, as before.
    A JSON sub-document (an array to unnest) is still taken with `->` from `column`, which passes
    through: measured, that is faster on DuckDB than extracting it as text here and casting it back. -#}
{% macro json_fields(relation, fields, column='payload') -%}
{{ return(adapter.dispatch('json_fields', 'leadflow')(relation, fields, column)) }}
{%- endmacro %}

{% macro default__json_fields(relation, fields, column) -%}
select
    * exclude (_json_fields),
    {%- for name in fields %}
    _json_fields[{{ loop.index }}] as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
from (
    select
        *,
        json_extract_string({{ column }}, [
            {%- for path in fields.values() %}
            '{{ json_fields_path(path) }}'{{ ',' if not loop.last }}
            {%- endfor %}
        ]) as _json_fields
    from {{ relation }}
) as json_parsed
{%- endmacro %}

{% macro postgres__json_fields(relation, fields, column) -%}
select
    *,
    {%- for name, path in fields.items() %}
    {{ json_fields_arrows(column, path) }} as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ relation }}
{%- endmacro %}

{#- A `fields` path as a list of steps: keys (strings, checked) and array indexes (integers). -#}
{% macro json_fields_steps(path) -%}
{%- set steps = [path] if path is string else path -%}
{%- for step in steps -%}
  {%- if step is string and (step == '' or '"' in step or "'" in step or '\\' in step) -%}
    {{ exceptions.raise_compiler_error("json_fields: unsupported key " ~ step ~ " (empty, or with a quote or backslash)") }}
  {%- elif step is not string and step is not integer -%}
    {{ exceptions.raise_compiler_error("json_fields: a path step is a key or an array index, not " ~ step) }}
  {%- endif -%}
{%- endfor -%}
{{ return(steps) }}
{%- endmacro %}

{#- DuckDB JSON path, every key quoted (`$."properties"."email"`): keys with dots or dashes stay one key. -#}
{% macro json_fields_path(path) -%}
${% for step in json_fields_steps(path) %}{% if step is string %}."{{ step }}"{% else %}[{{ step }}]{% endif %}{% endfor %}
{%- endmacro %}

{#- `column -> step -> ... ->> last`: the expression the models used before D46. -#}
{% macro json_fields_arrows(column, path) -%}
{%- set steps = json_fields_steps(path) -%}
{{ column }}{% for step in steps %} {{ '->>' if loop.last else '->' }} {% if step is string %}'{{ step }}'{% else %}{{ step }}{% endif %}{% endfor %}
{%- endmacro %}
