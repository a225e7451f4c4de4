-- Wilson 95 % bounds from the macros against an independent double-precision computation
-- (0/20 -> [0, 0.1611] is the textbook check of the score interval). Returns the rows that disagree.
-- a check of the statistics macros on fixed values: development and CI only (tag `reference`, D30, D45)
{{ config(tags=['reference']) }}
with cases as (
    select * from (values
        (6, 36, 0.07870447595018114, 0.31890794311279463),
        (18, 36, 0.34474325409626827, 0.6552567459037317),
        (0, 20, 0.0, 0.16112515805281938),
        (20, 20, 0.8388748419471806, 1.0),
        (1, 1, 0.20654931437723745, 1.0),
        (167, 1000, 0.14516656150470994, 0.1913820596466698)
    ) as t (successes, trials, expected_low, expected_high)
)

select *
from cases
where abs({{ wilson_low('successes', 'trials') }} - expected_low) > 1e-9
   or abs({{ wilson_high('successes', 'trials') }} - expected_high) > 1e-9
