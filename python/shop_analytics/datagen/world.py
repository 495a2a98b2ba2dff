"""Countries and currencies of the synthetic shop: shares, spellings and money rules."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Country:
    """A customer country: ISO codes, the share of customers, the currency they pay in, other spellings."""

    alpha2: str
    alpha3: str
    name: str
    share: float
    currency: str
    aliases: tuple[str, ...] = ()


# 36 countries; the US about 40%. Customers pay in their country's currency where the shop
# sells in it, otherwise in USD. Aliases are legacy codes and other spellings seen in real
# exports (the warehouse's alias seed must resolve every one of them).
COUNTRIES: tuple[Country, ...] = (
    Country("US", "USA", "United States", 0.400, "USD", ("U.S.A.", "United States of America", "U.S.")),
    Country("GB", "GBR", "United Kingdom", 0.100, "GBP", ("UK", "Great Britain", "England")),
    Country("DE", "DEU", "Germany", 0.080, "EUR", ("Deutschland",)),
    Country("FR", "FRA", "France", 0.060, "EUR"),
    Country("CA", "CAN", "Canada", 0.050, "CAD"),
    Country("JP", "JPN", "Japan", 0.040, "JPY"),
    Country("AU", "AUS", "Australia", 0.030, "AUD"),
    Country("BR", "BRA", "Brazil", 0.025, "USD", ("Brasil",)),
    Country("IN", "IND", "India", 0.025, "USD"),
    Country("MX", "MEX", "Mexico", 0.020, "USD"),
    Country("ES", "ESP", "Spain", 0.020, "EUR", ("Espana",)),
    Country("NL", "NLD", "Netherlands", 0.020, "EUR", ("Holland", "The Netherlands")),
    Country("IT", "ITA", "Italy", 0.015, "EUR"),
    Country("IE", "IRL", "Ireland", 0.010, "EUR", ("EIRE",)),
    Country("BE", "BEL", "Belgium", 0.008, "EUR"),
    Country("AT", "AUT", "Austria", 0.006, "EUR"),
    Country("CH", "CHE", "Switzerland", 0.008, "CHF"),
    Country("SE", "SWE", "Sweden", 0.008, "SEK"),
    Country("NO", "NOR", "Norway", 0.005, "USD"),
    Country("DK", "DNK", "Denmark", 0.005, "USD"),
    Country("PL", "POL", "Poland", 0.005, "USD"),
    Country("PT", "PRT", "Portugal", 0.005, "EUR"),
    Country("GR", "GRC", "Greece", 0.004, "EUR", ("EL", "Hellas")),
    Country("FI", "FIN", "Finland", 0.004, "EUR"),
    Country("CZ", "CZE", "Czechia", 0.003, "USD", ("Czech Republic",)),
    Country("IL", "ISR", "Israel", 0.003, "USD"),
    Country("SG", "SGP", "Singapore", 0.004, "USD"),
    Country("HK", "HKG", "Hong Kong", 0.003, "USD"),
    Country("KR", "KOR", "Korea, Republic of", 0.005, "USD", ("South Korea",)),
    Country("ZA", "ZAF", "South Africa", 0.003, "USD", ("RSA",)),
    Country("AE", "ARE", "United Arab Emirates", 0.003, "USD", ("UAE",)),
    Country("BH", "BHR", "Bahrain", 0.002, "BHD"),
    Country("NZ", "NZL", "New Zealand", 0.003, "AUD"),
    Country("IS", "ISL", "Iceland", 0.001, "USD"),
    Country("CY", "CYP", "Cyprus", 0.001, "EUR"),
    Country("MT", "MLT", "Malta", 0.001, "EUR"),
)

# Values that name no country: the warehouse keeps these customers, flagged `unknown`.
UNKNOWN_COUNTRIES: tuple[str, ...] = ("Unspecified", "European Community", "ZZ", "Atlantis", "N/A")


@dataclass(frozen=True)
class Currency:
    """A currency the shop sells in: minor units and how its daily rate is quoted."""

    code: str
    minor_units: int
    usd_per_unit: float  # starting level of the rate path
    volatility: float  # daily log-return standard deviation
    quote: str  # 'direct' (currency vs USD), 'inverse' (USD vs currency) or 'via_eur' (currency vs EUR)


REPORTING_BASE = "USD"
CURRENCIES: tuple[Currency, ...] = (
    Currency("USD", 2, 1.0, 0.0, "none"),
    Currency("EUR", 2, 1.10, 0.005, "direct"),
    Currency("GBP", 2, 1.45, 0.006, "direct"),
    Currency("JPY", 0, 0.0090, 0.006, "inverse"),
    Currency("CAD", 2, 0.75, 0.005, "direct"),
    Currency("AUD", 2, 0.72, 0.006, "direct"),
    Currency("CHF", 2, 1.00, 0.005, "via_eur"),
    Currency("SEK", 2, 0.115, 0.006, "via_eur"),
    Currency("BHD", 3, 2.65957, 0.0005, "direct"),
)
CURRENCY_CODES: tuple[str, ...] = tuple(c.code for c in CURRENCIES)

# Codes that are not ISO 4217 (or no longer are): the gate quarantines them as unknown_currency.
UNKNOWN_CURRENCIES: tuple[str, ...] = ("EURO", "RMB", "BTC", "UKP", "US$")


def currency_index(code: str) -> int:
    """Position of `code` in CURRENCIES."""
    return CURRENCY_CODES.index(code)
