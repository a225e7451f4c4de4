{#- Generic data tests used across the marts (written here, no dbt packages needed offline). -#}

{#- Fails on every row where `expression` is not true (null counts as a failure unless `where` excludes it). -#}
{% test expression_is_true(model, expression, where=none) %}
select * from {{ model }}
where not coalesce(({{ expression }}), false)
{%- if where %} and ({{ where }}){% endif %}
{% endtest %}

{#- Fails where a non-null column value lies outside [min_value, max_value]. -#}
{% test between(model, column_name, min_value, max_value) %}
select * from {{ model }}
where {{ column_name }} is not null
  and ({{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }})
{% endtest %}

{#- Fails on rows where a later column in `column_names` is larger than an earlier one
    (for funnels: counts may only shrink stage over stage). -#}
{% test never_increasing(model, column_names) %}
select * from {{ model }}
where false
{%- for i in range(1, column_names | length) %}
   or coalesce({{ column_names[i] }}, 0) > coalesce({{ column_names[i - 1] }}, 0)
{%- endfor %}
{% endtest %}

{#- Fails where a non-null estimate lies outside its non-null [low, high] interval. -#}
{% test interval_contains(model, column_name, low, high) %}
select * from {{ model }}
where {{ column_name }} is not null
  and ({{ low }} is null or {{ high }} is null
       or {{ column_name }} < {{ low }} - 1e-12 or {{ column_name }} > {{ high }} + 1e-12)
{% endtest %}

{#- A key column: fails on every null and on every value held by more than one row (dbt's `not_null`
    and `unique` in one scan and one node). -#}
{% test not_null_unique(model, column_name) %}
select {{ column_name }} as key_value, count(*) as n_rows
from {{ model }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1
{% endtest %}
