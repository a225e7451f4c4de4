{#- Statistics on proportions, as plain SQL expressions so they run on DuckDB and PostgreSQL alike.
    Arguments are SQL expressions (column names); all arithmetic is done in double precision.

    - Wilson score interval (Wilson 1927), 95 %: z = 1.959963984540054.
    - Standard normal CDF via erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): neither
      engine ships erf, and the approximation is the same polynomial on both, so results agree.
    - Two-proportion z-test with pooled variance, two-sided p-value.
    - Difference of two proportions with Newcombe's hybrid score interval (method 10, 1998),
      built from the two Wilson intervals. -#}

{% macro z95() -%}1.959963984540054{%- endmacro %}

{% macro _dbl(expr) -%}cast({{ expr }} as double precision){%- endmacro %}

{% macro wilson_low(successes, trials) -%}
(case when {{ trials }} > 0 then
  ( ({{ _dbl(successes) }} / {{ trials }}) + {{ z95() }} * {{ z95() }} / (2.0 * {{ trials }})
    - {{ z95() }} * sqrt( ({{ _dbl(successes) }} / {{ trials }}) * (1.0 - {{ _dbl(successes) }} / {{ trials }}) / {{ trials }}
                          + {{ z95() }} * {{ z95() }} / (4.0 * {{ trials }} * {{ trials }}) ) )
  / (1.0 + {{ z95() }} * {{ z95() }} / {{ trials }})
end)
{%- endmacro %}

{% macro wilson_high(successes, trials) -%}
(case when {{ trials }} > 0 then
  ( ({{ _dbl(successes) }} / {{ trials }}) + {{ z95() }} * {{ z95() }} / (2.0 * {{ trials }})
    + {{ z95() }} * sqrt( ({{ _dbl(successes) }} / {{ trials }}) * (1.0 - {{ _dbl(successes) }} / {{ trials }}) / {{ trials }}
                          + {{ z95() }} * {{ z95() }} / (4.0 * {{ trials }} * {{ trials }}) ) )
  / (1.0 + {{ z95() }} * {{ z95() }} / {{ trials }})
end)
{%- endmacro %}

{#- Upper tail of the standard normal at |z|, times two: the two-sided p-value of a z statistic.
    A&S 7.1.26 gives erfc(x) = (a1 t + ... + a5 t^5) exp(-x^2), t = 1 / (1 + p x), x = |z| / sqrt(2);
    two-sided p = erfc(|z| / sqrt(2)). Written without 1 - erf to avoid cancellation in the tail. -#}
{% macro two_sided_p_from_z(z) -%}
(  ( 0.254829592 * (1.0 / (1.0 + 0.3275911 * abs({{ z }}) / sqrt(2.0)))
   - 0.284496736 * power(1.0 / (1.0 + 0.3275911 * abs({{ z }}) / sqrt(2.0)), 2)
   + 1.421413741 * power(1.0 / (1.0 + 0.3275911 * abs({{ z }}) / sqrt(2.0)), 3)
   - 1.453152027 * power(1.0 / (1.0 + 0.3275911 * abs({{ z }}) / sqrt(2.0)), 4)
   + 1.061405429 * power(1.0 / (1.0 + 0.3275911 * abs({{ z }}) / sqrt(2.0)), 5) )
   * exp(-({{ z }}) * ({{ z }}) / 2.0) )
{%- endmacro %}

{#- Standard normal CDF Phi(z). -#}
{% macro normal_cdf(z) -%}
(case when {{ z }} >= 0 then 1.0 - 0.5 * {{ two_sided_p_from_z(z) }}
      else 0.5 * {{ two_sided_p_from_z(z) }} end)
{%- endmacro %}

{#- Two-sided p-value of the pooled two-proportion z-test of x1/n1 against x2/n2.
    Null when a group is empty; 1 when both groups sit at the same boundary (0 % or 100 %). -#}
{% macro two_proportion_p_value(x1, n1, x2, n2) -%}
{%- set pooled = "((" ~ _dbl(x1) ~ " + " ~ x2 ~ ") / (" ~ n1 ~ " + " ~ n2 ~ "))" -%}
{%- set se = "sqrt(" ~ pooled ~ " * (1.0 - " ~ pooled ~ ") * (1.0 / " ~ n1 ~ " + 1.0 / " ~ n2 ~ "))" -%}
(case
  when {{ n1 }} is null or {{ n2 }} is null or {{ n1 }} = 0 or {{ n2 }} = 0 then null
  when {{ pooled }} <= 0.0 or {{ pooled }} >= 1.0 then 1.0
  else {{ two_sided_p_from_z("((" ~ _dbl(x1) ~ " / " ~ n1 ~ " - " ~ _dbl(x2) ~ " / " ~ n2 ~ ") / " ~ se ~ ")") }}
end)
{%- endmacro %}

{#- Newcombe hybrid score interval for p1 - p2 (lower / upper bound). -#}
{% macro diff_ci_low(x1, n1, x2, n2) -%}
(case when {{ n1 }} > 0 and {{ n2 }} > 0 then
  ({{ _dbl(x1) }} / {{ n1 }} - {{ _dbl(x2) }} / {{ n2 }})
  - sqrt( power({{ _dbl(x1) }} / {{ n1 }} - {{ wilson_low(x1, n1) }}, 2)
        + power({{ wilson_high(x2, n2) }} - {{ _dbl(x2) }} / {{ n2 }}, 2) )
end)
{%- endmacro %}

{% macro diff_ci_high(x1, n1, x2, n2) -%}
(case when {{ n1 }} > 0 and {{ n2 }} > 0 then
  ({{ _dbl(x1) }} / {{ n1 }} - {{ _dbl(x2) }} / {{ n2 }})
  + sqrt( power({{ wilson_high(x1, n1) }} - {{ _dbl(x1) }} / {{ n1 }}, 2)
        + power({{ _dbl(x2) }} / {{ n2 }} - {{ wilson_low(x2, n2) }}, 2) )
end)
{%- endmacro %}

{#- p-chart (Shewhart control chart for proportions): 3-sigma limits around the centre line p_bar
    for a subgroup of size n, clipped to [0, 1]. -#}
{% macro p_chart_lcl(p_bar, n) -%}
(case when {{ n }} > 0 then greatest(0.0, {{ p_bar }} - 3.0 * sqrt({{ p_bar }} * (1.0 - {{ p_bar }}) / {{ n }})) end)
{%- endmacro %}

{% macro p_chart_ucl(p_bar, n) -%}
(case when {{ n }} > 0 then least(1.0, {{ p_bar }} + 3.0 * sqrt({{ p_bar }} * (1.0 - {{ p_bar }}) / {{ n }})) end)
{%- endmacro %}
