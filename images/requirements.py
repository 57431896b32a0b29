"""Print the pinned requirements of pyproject.toml (and of the extras named as arguments), one per
line: the images install them in a layer of their own, before the project's code is copied in,
so a change to the code does not reinstall every dependency."""

import sys
import tomllib

with open("pyproject.toml", "rb") as pyproject:
    project = tomllib.load(pyproject)["project"]
extras = project.get("optional-dependencies", {})
print("\n".join([*project["dependencies"], *(r for extra in sys.argv[1:] for r in extras[extra])]))
