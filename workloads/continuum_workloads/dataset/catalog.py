"""Static reference tables the synthetic generator draws from: models with their new price and
engine, body-type dimensions, dealers' cities, colours, options, description phrases."""

from __future__ import annotations

from typing import NamedTuple


class Model(NamedTuple):
    make: str
    name: str
    body_type: str
    new_price: float  # base trim, USD
    horsepower: float  # base trim
    engine: str  # engine_cylinders / engine_type; empty for electric cars
    displacement_cc: float  # 0 for electric cars
    fuel_type: str
    popularity: float  # relative share of listings


# Written so in both engine_cylinders ("V8 Flex Fuel Vehicle") and fuel_type.
FLEX_FUEL = "Flex Fuel Vehicle"

MODELS: tuple[Model, ...] = (
    Model("Ford", "F-150", "Pickup Truck", 42000, 290, "V6", 3300, "Gasoline", 9),
    Model("Ford", "Escape", "SUV / Crossover", 27000, 180, "I4", 1500, "Gasoline", 6),
    Model("Ford", "Mustang", "Coupe", 31000, 310, "I4", 2300, "Gasoline", 2),
    Model("Ford", "Transit Cargo", "Van", 38000, 275, "V6", 3500, "Gasoline", 1),
    Model("Chevrolet", "Silverado 1500", "Pickup Truck", 40000, 285, "V8", 5300, "Gasoline", 8),
    Model("Chevrolet", "Equinox", "SUV / Crossover", 26000, 170, "I4", 1500, "Gasoline", 6),
    Model("Chevrolet", "Malibu", "Sedan", 24000, 160, "I4", 1500, "Gasoline", 4),
    Model("Toyota", "Camry", "Sedan", 26000, 203, "I4", 2500, "Gasoline", 6),
    Model("Toyota", "RAV4", "SUV / Crossover", 28000, 203, "I4", 2500, "Gasoline", 6),
    Model("Toyota", "Corolla", "Sedan", 21000, 139, "I4", 1800, "Gasoline", 5),
    Model("Toyota", "Tacoma", "Pickup Truck", 32000, 278, "V6", 3500, "Gasoline", 3),
    Model("Toyota", "Prius", "Hatchback", 25000, 121, "I4 Hybrid", 1800, "Hybrid", 2),
    Model("Honda", "Civic", "Sedan", 22000, 158, "I4", 2000, "Gasoline", 5),
    Model("Honda", "Accord", "Sedan", 26000, 192, "I4", 1500, "Gasoline", 5),
    Model("Honda", "CR-V", "SUV / Crossover", 27000, 190, "I4", 1500, "Gasoline", 5),
    Model("Honda", "Odyssey", "Minivan", 33000, 280, "V6", 3500, "Gasoline", 2),
    Model("Nissan", "Altima", "Sedan", 25000, 188, "I4", 2500, "Gasoline", 4),
    Model("Nissan", "Rogue", "SUV / Crossover", 27000, 170, "I4", 2500, "Gasoline", 5),
    Model("Jeep", "Wrangler", "SUV / Crossover", 33000, 285, "V6", 3600, "Gasoline", 3),
    Model("Jeep", "Grand Cherokee", "SUV / Crossover", 36000, 293, "V6", 3600, "Gasoline", 4),
    Model("RAM", "1500", "Pickup Truck", 40000, 305, f"V8 {FLEX_FUEL}", 5700, FLEX_FUEL, 5),
    Model("GMC", "Sierra 1500", "Pickup Truck", 45000, 355, "V8", 5300, "Gasoline", 3),
    Model("Hyundai", "Elantra", "Sedan", 20000, 147, "I4", 2000, "Gasoline", 4),
    Model("Kia", "Soul", "Hatchback", 19000, 147, "I4", 2000, "Gasoline", 2),
    Model("Subaru", "Outback", "Wagon", 28000, 182, "H4", 2500, "Gasoline", 3),
    Model("Volkswagen", "Golf", "Hatchback", 23000, 147, "I4", 1400, "Gasoline", 1),
    Model("BMW", "3 Series", "Sedan", 42000, 255, "I4", 2000, "Gasoline", 2),
    Model("BMW", "X5", "SUV / Crossover", 60000, 335, "I6", 3000, "Gasoline", 1),
    Model("Mercedes-Benz", "C-Class", "Sedan", 43000, 255, "I4", 2000, "Gasoline", 2),
    Model("Mercedes-Benz", "GLE", "SUV / Crossover", 57000, 255, "I4", 2000, "Gasoline", 1),
    Model("Audi", "A4", "Sedan", 40000, 201, "I4", 2000, "Gasoline", 1),
    Model("Lexus", "RX", "SUV / Crossover", 46000, 295, "V6", 3500, "Gasoline", 1),
    Model("Tesla", "Model 3", "Sedan", 42000, 283, "", 0, "Electric", 1),
    Model("Chrysler", "Pacifica", "Minivan", 35000, 287, "V6", 3600, "Gasoline", 1),
    Model("Mazda", "MX-5 Miata", "Convertible", 27000, 181, "I4", 2000, "Gasoline", 1),
    Model("Porsche", "911", "Coupe", 100000, 379, "H6", 3000, "Gasoline", 0.3),
    Model("Dodge", "Charger", "Sedan", 30000, 292, "V6", 3600, "Gasoline", 2),
    Model("Cadillac", "Escalade", "SUV / Crossover", 77000, 420, "V8", 6200, "Gasoline", 0.5),
)


class Body(NamedTuple):
    length: float  # inches
    width: float
    height: float
    wheelbase: float
    front_legroom: float
    back_legroom: float  # 0: no rear seats, written as "--"
    fuel_tank: float  # gallons
    seats: int
    depreciation: float  # share of value lost per year of age
    drives: tuple[str, ...]  # wheel_system choices, first the most common


BODIES: dict[str, Body] = {
    "Pickup Truck": Body(231, 80, 77, 145, 43.0, 40.0, 26.0, 6, 0.07, ("4WD", "4X2", "RWD")),
    "SUV / Crossover": Body(185, 74, 68, 108, 41.0, 38.5, 16.0, 5, 0.09, ("AWD", "FWD", "4WD")),
    "Sedan": Body(192, 72, 57, 111, 42.3, 38.0, 15.5, 5, 0.11, ("FWD", "AWD", "RWD")),
    "Coupe": Body(188, 75, 54, 107, 42.0, 29.0, 16.0, 4, 0.11, ("RWD", "AWD")),
    "Hatchback": Body(165, 70, 58, 102, 41.0, 36.0, 12.5, 5, 0.11, ("FWD",)),
    "Minivan": Body(203, 79, 70, 121, 41.0, 39.0, 19.0, 8, 0.12, ("FWD", "AWD")),
    "Wagon": Body(190, 73, 66, 108, 42.8, 39.5, 18.5, 5, 0.11, ("AWD",)),
    "Convertible": Body(154, 68, 48, 91, 43.1, 0.0, 11.9, 2, 0.11, ("RWD",)),
    "Van": Body(235, 81, 100, 148, 41.0, 0.0, 25.0, 2, 0.12, ("RWD", "AWD")),
}

DRIVE_DISPLAY: dict[str, str] = {
    "FWD": "Front-Wheel Drive",
    "RWD": "Rear-Wheel Drive",
    "AWD": "All-Wheel Drive",
    "4WD": "Four-Wheel Drive",
    "4X2": "4X2",
}

# (name, price factor, horsepower factor, share)
TRIMS: tuple[tuple[str, float, float, float], ...] = (
    ("Base", 1.00, 1.00, 0.35),
    ("SE", 1.10, 1.00, 0.30),
    ("Limited", 1.25, 1.12, 0.25),
    ("Platinum", 1.45, 1.25, 0.10),
)

# (code, display pattern, share); "{gears}" is filled with 6-10.
TRANSMISSIONS: tuple[tuple[str, str, float], ...] = (
    ("A", "{gears}-Speed Automatic", 0.78),
    ("A", "Automatic", 0.05),
    ("CVT", "Continuously Variable Transmission", 0.11),
    ("M", "6-Speed Manual", 0.04),
    ("Dual Clutch", "7-Speed Dual Clutch", 0.02),
)

BEDS: tuple[str, ...] = ("Short Bed", "Regular Bed", "Long Bed")
BED_LENGTHS: tuple[float, ...] = (67.1, 78.9, 97.6)
CABINS: tuple[str, ...] = ("Crew Cab", "Extended Cab", "Regular Cab")

# (city, zip, latitude, longitude)
CITIES: tuple[tuple[str, str, float, float], ...] = (
    ("Houston", "77034", 29.6255, -95.2165),
    ("San Antonio", "78238", 29.4816, -98.6236),
    ("Columbus", "43228", 39.9626, -83.1234),
    ("Jacksonville", "32256", 30.2206, -81.5570),
    ("Phoenix", "85023", 33.6314, -112.1170),
    ("Miami", "33169", 25.9426, -80.2091),
    ("Las Vegas", "89146", 36.1458, -115.2270),
    ("Denver", "80221", 39.8139, -105.0116),
    ("Charlotte", "28212", 35.1876, -80.7475),
    ("Nashville", "37211", 36.0721, -86.7247),
    ("Bayamon", "00960", 18.3988, -66.1582),
    ("Springfield", "01104", 42.1225, -72.5608),
)

DEALER_WORDS: tuple[str, ...] = (
    "Sunrise", "Metro", "Lakeside", "Summit", "Heritage", "Pioneer", "Crossroads", "Liberty",
)  # fmt: skip
DEALERS_PER_CITY = 12

# (exterior colour, listing colour)
EXTERIOR_COLORS: tuple[tuple[str, str], ...] = (
    ("Oxford White", "WHITE"),
    ("Summit White", "WHITE"),
    ("Super Black", "BLACK"),
    ("Midnight Black Metallic", "BLACK"),
    ("Magnetic Metallic", "GRAY"),
    ("Celestial Silver Metallic", "SILVER"),
    ("Ruby Red", "RED"),
    ("Velocity Blue", "BLUE"),
    ("Forest Green", "GREEN"),
    ("Solar Yellow", "YELLOW"),
    ("Sandstone", "UNKNOWN"),
)
INTERIOR_COLORS: tuple[str, ...] = ("Black", "Ebony", "Gray", "Beige", "Jet Black", "Saddle")

# (option, share among base trims); higher trims carry each option more often.
OPTIONS: tuple[tuple[str, float], ...] = (
    ("Backup Camera", 0.7),
    ("Bluetooth", 0.7),
    ("Alloy Wheels", 0.5),
    ("Heated Seats", 0.3),
    ("Navigation System", 0.2),
    ("Sunroof/Moonroof", 0.2),
    ("Leather Seats", 0.15),
    ("Adaptive Cruise Control", 0.15),
    ("Remote Start", 0.2),
    ("Blind Spot Monitoring", 0.2),
    ("Android Auto", 0.25),
    ("CarPlay", 0.25),
    ("Third Row Seating", 0.05),
    ("Driver's Convenience Package", 0.05),
)

# Description lines: commas, quotes and line breaks are what a CSV reader has to get right.
DESCRIPTION_OPENERS: tuple[str, ...] = (
    "Clean CARFAX, one owner!",
    'Priced to sell, "like new" condition.',
    "Recent arrival! Certified pre-owned, 7-year/100,000-mile warranty.",
    "Local trade-in, well maintained.",
    "[!@@Additional Info@@!]Dealer-installed options, see store for details.",
)
DESCRIPTION_CLOSERS: tuple[str, ...] = (
    "Call us today to schedule a test drive.",
    'Ask about our "no haggle" pricing, financing available.',
    "Price excludes tax, title and license; dealer fees may apply.",
    "",
)
