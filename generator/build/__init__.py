"""Running a build: keys (hashing), cache, state, the run itself, and its report.

    from generator.build import Build, BuildOptions
    report = Build(options).run()
"""

from generator.build.report import BuildReport, Failure, TechniqueStats
from generator.build.pool import ModelStateError
from generator.build.run import Build, BuildOptions, clean

__all__ = ["Build", "BuildOptions", "BuildReport", "Failure", "TechniqueStats", "ModelStateError", "clean"]
