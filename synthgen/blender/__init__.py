"""The ONLY package that imports bpy/mathutils. It applies a ScenePlan and draws nothing random."""
