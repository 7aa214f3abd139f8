"""Every config of synthgen, render and learn alike, built on one base.

- ``base``: the frozen, strict pydantic base ``_Model`` (the learn configs use it too), range
  checks, config-relative paths, colour ranges;
- ``loading``: YAML loading with one-line errors that name the file and the field;
- ``scene``, ``photo``, ``sensor``: the render config's sections;
- ``job``: the render job's config (``JobConfig``, ``load_job_config``, the JSON schema);
- ``edit``: the numeric fields the Blender add-on edits, and writing them back.

Import from the module that defines a name (``from synthgen.config.job import JobConfig``): this
package imports nothing itself, so ``textures/`` can build its recipes on ``base`` while ``job``
builds on ``textures/``.
"""
