"""Exact, fast model responses on partial-dependence grids for tree models.

scikit-learn's brute-force partial dependence calls the model once per grid point, so for
``G`` grid points and ``n`` rows it walks every tree ``G * n`` times.  This module returns the
same numbers by using the structure of the trees instead.

For a tree and the set ``F`` of *free* features (the ones the grid sets):

* ``A[i, l] = 1`` when leaf ``l`` is reachable by row ``i`` if the splits on ``F`` go both ways
  and every other split follows the row, exactly as the estimator's own ``predict`` decides;
* ``B[g, l] = 1`` when leaf ``l`` is reachable by grid point ``g`` if the splits on ``F`` follow
  the grid point and every other split goes both ways.

The leaf that row ``i`` lands in when its free features are set to grid point ``g`` is the
unique ``l`` with ``A[i, l] * B[g, l] = 1``, so the raw output of the ensemble for every
``(i, g)`` is ``A @ diag(v) @ B.T`` summed over trees.  Three refinements keep this cheap:

* ``B`` only needs the *upper* part of a tree (the nodes whose subtree contains a free split);
  it is stored per *frontier* node (root of a subtree without free splits).  Every leaf lies
  below exactly one frontier node.  Grid points that reach the same frontier nodes send every
  row to the same leaf, so ``B`` is kept per *class* of grid points.
* Rows that reach the same set of leaves of a tree (the same *pattern*) have identical outputs
  from that tree for every grid point, so each tree becomes a small ``(n_patterns, G)`` table
  and a row touches exactly one entry per tree.
* The ensemble output is a running sum per (row, grid point): it starts at the estimator's
  baseline and each tree, in prediction order, adds its table entry (a compiled loop,
  ``_kernels.grid_add``, one addition per entry in the dtype of the estimator's sums: float64, or
  float32 rounded after every tree for XGBoost), so the raw sums are bit-for-bit the estimator's
  own.

When the output is linear in the tree outputs (regressors with an identity link,
``decision_function``, forests' averaged probabilities) the weighted average over rows only
needs the per-leaf weight totals ``w @ A``, which costs one pass over the rows instead of ``G``.
Those totals come from packed split bits (``_bits``): every split decision of every row is one
bit, computed once per model column for all trees and kept across the features of one model;
the rows reaching a leaf are the AND of the bits along its path (all ones at free splits), formed
level by level over the nodes of all trees at once, and counted by popcount.  ``B`` is formed the
same way from the grid points' bits, so the average needs no walk, no frontier and no pattern.
Otherwise (probabilities of boosted classifiers, log links) the per-row raw values are computed
in row chunks bounded by ``max_bytes`` and the estimator's own link is applied before averaging.

Pipelines whose transformers work column by column (each output column depends on exactly one
input column) are reduced to the final tree model on the transformed matrix: ``X`` is
transformed once, the ``G`` grid rows are transformed once, and the transformed columns that
come from the free inputs become the free set.

The per-row work is compiled (``_kernels``, numba through :mod:`inspectcli.engines._jit`): the
walks that give rows their patterns (and grid points / donors their frontier nodes) go node by
node over blocks of 2,048 consecutive rows, partitioning each node's range of rows in place
without branches (a split both ways hands the same range to both children); the patterns' keys
are numbered with an open-addressing table in order of first appearance; the table lookups and
additions are plain loops over (output, permutation, row).  Measured against the numpy versions
they replaced (benchmarks/RESULTS.md, "Compiled kernels"): about 2x on the walks; the remaining
cost is the work itself (~2 ns per (row, node) visited, ~1.2 ns per lookup and addition).

Permutation importance uses the same structure (``permuted.py``): permuting the free columns with
a row permutation ``p`` gives row ``i`` the free values of row ``p[i]`` (its *donor*) and its own
values elsewhere, which is ICE at one grid point per row, the grid being the rows themselves.
Per tree, the row side (the pattern of leaves a row reaches with the free splits going both ways)
depends only on the unpermuted columns, and the donor side (the class of frontier nodes a donor
reaches) only on the donor's free values, so both are computed once per free set; every
permutation then costs one table lookup and one addition per (row, tree), instead of a traversal.

Layout (imports go down this list, never up):

* ``_model``: the tree form every family is converted to (:class:`_Tree`), the exceptions, and
  the comparison rule of the self-checks;
* ``_pipeline``: column-wise pipeline prefixes (which input column feeds each model column), the
  plan (prefix + model) and the model-space matrix;
* ``_specs``: each model family's private attributes, read into a :class:`_Spec`; the only module
  that touches them and the one place where a family is added (see its docstring);
* ``_kernels``: the compiled per-row loops (walks, key numbering, lookups and sums);
* ``_walk``: traversals, set codes, frontiers;
* ``_bits``: packed split bits of all trees at once and the leaves' reach (PD averages);
* ``grid``: responses on PD/ICE grids (:func:`tree_path_responses`);
* ``permuted``: responses on permuted copies (:class:`PermutedTreePaths`).
"""

from inspectcli.engines.trees._model import TreePathMismatchError, TreePathsTooSlow
from inspectcli.engines.trees.grid import supports_tree_paths, tree_path_moments, tree_path_responses
from inspectcli.engines.trees.permuted import (
    PermutedTreePaths,
    supports_permuted_tree_paths,
    tree_path_permuted_responses,
)

__all__ = [
    "PermutedTreePaths",
    "TreePathMismatchError",
    "TreePathsTooSlow",
    "supports_permuted_tree_paths",
    "supports_tree_paths",
    "tree_path_moments",
    "tree_path_permuted_responses",
    "tree_path_responses",
]
