"""Dependency-free geometry: rotations, rigid transforms, camera model, dataset frames, orientation bins.

Conventions (see docs/conventions.md):
  * All frames are right-handed, metric (metres), +Z up for world frames.
  * Cameras are OpenCV-style (x right, y down, z forward); poses are camera-to-world 4x4 (`T_world_from_cam`).
  * Quaternions are stored **xyzw** (scipy / three.js order, as SQA3D stores them).
  * Angles are radians unless a name ends in `_deg`; wrapped angles lie in [-pi, pi).
"""
