-- The Abramowitz-Stegun 7.1.26 normal CDF against Phi from erf (|error| must stay below 1.5e-7).
-- a check of the statistics macros on fixed values: development and CI only (tag `reference`, D30, D45)
{{ config(tags=['reference']) }}
with cases as (
    select * from (values
        (-3.0, 0.0013498980316301035),
        (-1.96, 0.024997895148220428),
        (-1.0, 0.15865525393145707),
        (0.0, 0.5),
        (0.5, 0.6914624612740131),
        (1.0, 0.8413447460685429),
        (1.96, 0.9750021048517796),
        (3.0, 0.9986501019683699)
    ) as t (z, expected_cdf)
)

select *
from cases
where abs({{ normal_cdf('cast(z as double precision)') }} - expected_cdf) > 1.5e-7
