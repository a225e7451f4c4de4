{#- Small dialect shims between DuckDB and PostgreSQL. JSON access (`->`, `->>`) and
    `at time zone` read the same on both, so only what differs is dispatched here. dbt's own
    cross-database macros are used where they mean the same on both (`dbt.date_trunc`, `listagg`);
    not `dbt.datediff` (whole boundaries crossed, where the marts need fractional seconds), not
    `dbt.split_part` (dbt-duckdb's indexes a list: null instead of '' past the last part), and dbt
    has none for SHA-256, JSON arrays or regular expressions. -#}

{#- An ISO-8601 string (with offset or `Z`) as a naive UTC timestamp; empty strings become null. -#}
{% macro to_utc(expr) -%}
cast(cast(nullif({{ expr }}, '') as timestamp with time zone) at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- A naive UTC timestamp shown as the wall-clock time in time zone `tz` (an IANA name or column). -#}
{% macro utc_to_local(ts, tz) -%}
cast((({{ ts }}) at time zone 'UTC') at time zone {{ tz }} as timestamp)
{%- endmacro %}

{#- Seconds from `a` to `b` (both timestamps) as double precision. -#}
{% macro seconds_between(a, b) -%}
cast(extract(epoch from (({{ b }}) - ({{ a }}))) as double precision)
{%- endmacro %}

{#- The `as_of` point of the marts: the `as_of` var if set, else the newest version seen in the data. -#}
{% macro as_of_sql() -%}
{%- if var('as_of', '') -%}
{{ to_utc("'" ~ var('as_of') ~ "'") }}
{%- else -%}
(select max(version_at) from {{ ref('int_data_watermark') }})
{%- endif -%}
{%- endmacro %}

{#- Hex SHA-256 of a string. -#}
{% macro sha256_hex(expr) -%}
{{ return(adapter.dispatch('sha256_hex', 'leadflow')(expr)) }}
{%- endmacro %}
{% macro default__sha256_hex(expr) -%}
sha256({{ expr }})
{%- endmacro %}
{% macro postgres__sha256_hex(expr) -%}
encode(sha256(convert_to({{ expr }}, 'UTF8')), 'hex')
{%- endmacro %}

{#- PII leaves staging only as a salted hash of its normalised form (trimmed, lower-cased). -#}
{% macro hash_pii(expr) -%}
case when nullif(trim({{ expr }}), '') is null then null
     else {{ sha256_hex("'" ~ var('pii_salt', '') ~ "' || lower(trim(" ~ expr ~ "))") }} end
{%- endmacro %}

{#- Phone numbers are hashed on their digits only, so formatting does not change the hash. -#}
{% macro hash_phone(expr) -%}
{{ hash_pii("regexp_replace(" ~ expr ~ ", '[^0-9+]', '', 'g')") }}
{%- endmacro %}

{#- One output row per element of a JSON array (set-returning expression for a select list). -#}
{% macro json_array_elements(expr) -%}
{{ return(adapter.dispatch('json_array_elements', 'leadflow')(expr)) }}
{%- endmacro %}
{% macro default__json_array_elements(expr) -%}
unnest(cast({{ expr }} as json[]))
{%- endmacro %}
{% macro postgres__json_array_elements(expr) -%}
jsonb_array_elements({{ expr }})
{%- endmacro %}

{#- One output row per part of a delimited string (set-returning expression for a select list). -#}
{% macro split_to_rows(expr, delimiter) -%}
{{ return(adapter.dispatch('split_to_rows', 'leadflow')(expr, delimiter)) }}
{%- endmacro %}
{% macro default__split_to_rows(expr, delimiter) -%}
unnest(string_split({{ expr }}, '{{ delimiter }}'))
{%- endmacro %}
{% macro postgres__split_to_rows(expr, delimiter) -%}
unnest(string_to_array({{ expr }}, '{{ delimiter }}'))
{%- endmacro %}

{#- Schemas: `staging`, `intermediate`, `marts`, `seeds` on DuckDB's default `main`; prefixed by the
    target schema elsewhere (so parallel Postgres runs stay apart). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
{%- if custom_schema_name is none -%}{{ target.schema }}
{%- elif target.schema == 'main' -%}{{ custom_schema_name | trim }}
{%- else -%}{{ target.schema }}_{{ custom_schema_name | trim }}
{%- endif -%}
{%- endmacro %}

{#- Like `to_utc`, but null (not an error) for strings that do not start like an ISO-8601 date-time. -#}
{% macro safe_to_utc(expr) -%}
case when {{ regex_matches(expr, '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ][0-2][0-9]:[0-5][0-9]') }}
     then {{ to_utc(expr) }} end
{%- endmacro %}

{% macro regex_matches(expr, pattern) -%}
{{ return(adapter.dispatch('regex_matches', 'leadflow')(expr, pattern)) }}
{%- endmacro %}
{% macro default__regex_matches(expr, pattern) -%}
regexp_matches({{ expr }}, '{{ pattern }}')
{%- endmacro %}
{% macro postgres__regex_matches(expr, pattern) -%}
({{ expr }} ~ '{{ pattern }}')
{%- endmacro %}

{#- Monday of the ISO week of a date or timestamp, as a date (same on both engines, no session time zone). -#}
{% macro week_start(expr) -%}
cast({{ dbt.date_trunc('week', 'cast(' ~ expr ~ ' as timestamp)') }} as date)
{%- endmacro %}

{#- First day of the month, as 'YYYY-MM'. -#}
{% macro month_label(expr) -%}
substring(cast(cast({{ dbt.date_trunc('month', 'cast(' ~ expr ~ ' as timestamp)') }} as date) as varchar), 1, 7)
{%- endmacro %}
