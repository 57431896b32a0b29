"""The published layout of the US used cars dataset (`used_cars_data.csv`, 66 columns).

Every value in the file is text; `Kind` says how a column writes its values, which decides how
`continuum_workloads.dataset.parsing` turns it into a typed column and how the generator writes it.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"  # kept as a string: names, categories, free text, ids with leading zeros
    INTEGER = "integer"  # "2019"; also "1.0", as pandas writes integers of a column with gaps
    DECIMAL = "decimal"  # "23141.0", "-66.1582"
    FLAG = "flag"  # "True" / "False"
    DATE = "date"  # "2019-04-06"
    INCHES = "inches"  # "35.1 in"
    GALLONS = "gallons"  # "19.5 gal"
    SEATS = "seats"  # "5 seats"
    POWER = "power"  # "177 hp @ 5,700 RPM"
    TORQUE = "torque"  # "200 lb-ft @ 1,750 RPM"
    OPTIONS = "options"  # a Python list literal: "['Backup Camera', 'Bluetooth']"


# In the published order; the file's header must name these (order is not relied upon).
COLUMN_KINDS: dict[str, Kind] = {
    "vin": Kind.TEXT,
    "back_legroom": Kind.INCHES,
    "bed": Kind.TEXT,
    "bed_height": Kind.INCHES,
    "bed_length": Kind.INCHES,
    "body_type": Kind.TEXT,
    "cabin": Kind.TEXT,
    "city": Kind.TEXT,
    "city_fuel_economy": Kind.DECIMAL,
    "combine_fuel_economy": Kind.DECIMAL,
    "daysonmarket": Kind.INTEGER,
    "dealer_zip": Kind.TEXT,
    "description": Kind.TEXT,
    "engine_cylinders": Kind.TEXT,
    "engine_displacement": Kind.DECIMAL,
    "engine_type": Kind.TEXT,
    "exterior_color": Kind.TEXT,
    "fleet": Kind.FLAG,
    "frame_damaged": Kind.FLAG,
    "franchise_dealer": Kind.FLAG,
    "franchise_make": Kind.TEXT,
    "front_legroom": Kind.INCHES,
    "fuel_tank_volume": Kind.GALLONS,
    "fuel_type": Kind.TEXT,
    "has_accidents": Kind.FLAG,
    "height": Kind.INCHES,
    "highway_fuel_economy": Kind.DECIMAL,
    "horsepower": Kind.DECIMAL,
    "interior_color": Kind.TEXT,
    "isCab": Kind.FLAG,
    "is_certified": Kind.FLAG,
    "is_cpo": Kind.FLAG,
    "is_new": Kind.FLAG,
    "is_oemcpo": Kind.FLAG,
    "latitude": Kind.DECIMAL,
    "length": Kind.INCHES,
    "listed_date": Kind.DATE,
    "listing_color": Kind.TEXT,
    "listing_id": Kind.INTEGER,
    "longitude": Kind.DECIMAL,
    "main_picture_url": Kind.TEXT,
    "major_options": Kind.OPTIONS,
    "make_name": Kind.TEXT,
    "maximum_seating": Kind.SEATS,
    "mileage": Kind.DECIMAL,
    "model_name": Kind.TEXT,
    "owner_count": Kind.INTEGER,
    "power": Kind.POWER,
    "price": Kind.DECIMAL,
    "salvage": Kind.FLAG,
    "savings_amount": Kind.INTEGER,
    "seller_rating": Kind.DECIMAL,
    "sp_id": Kind.INTEGER,
    "sp_name": Kind.TEXT,
    "theft_title": Kind.FLAG,
    "torque": Kind.TORQUE,
    "transmission": Kind.TEXT,
    "transmission_display": Kind.TEXT,
    "trimId": Kind.TEXT,
    "trim_name": Kind.TEXT,
    "vehicle_damage_category": Kind.TEXT,
    "wheel_system": Kind.TEXT,
    "wheel_system_display": Kind.TEXT,
    "wheelbase": Kind.INCHES,
    "width": Kind.INCHES,
    "year": Kind.INTEGER,
}

COLUMNS: tuple[str, ...] = tuple(COLUMN_KINDS)
TARGET = "price"

# Power and torque carry two numbers; the second becomes a column of this suffix.
RPM_SUFFIX = "_rpm"

# What a blank flag means, per flag column. The dataset's documentation describes each flag as a
# yes/no property of the vehicle, and the published file writes them in two ways:
# - certification flags are written only when they hold ("True" or blank, never "False"): a blank
#   there means the vehicle is not certified, so blank is False;
# - history and title flags come from a vehicle-history report and are written "True" or
#   "False" when the report exists; a blank means no report (mostly new cars): unknown, None.
# Any other flag is written for every listing; a blank there is unknown too.
FLAG_BLANK_MEANS: dict[str, bool | None] = {
    "is_certified": False,
    "is_cpo": False,
    "is_oemcpo": False,
    "fleet": None,
    "frame_damaged": None,
    "has_accidents": None,
    "isCab": None,
    "salvage": None,
    "theft_title": None,
    "franchise_dealer": None,
    "is_new": None,
}
