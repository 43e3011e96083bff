"""The parameters of ``volume_hypothesis`` (``python -m verify volume_hypothesis --params``), the ``--data`` fold
and the constraints between parameters."""
from __future__ import annotations

from numerics.models import ARCHS, PRIORS
from numerics.normalized_losses import NORMALIZATIONS
from numerics.protocols import PROTOCOLS
from verify.errors import require
from verify.inputs import fold_data
from verify.parameters import Param, declare

REAL = ("mnist", "fashion_mnist", "cifar10")  # local copies (numerics.local_data), for the table presets

METHODS = ("gnc", "sgd", "pattern_search", "random_greedy", "poisoned")
MAX_DIGIT_N = 160  # 80 training images per class in numerics.datasets.digits_task

PARAMS = declare(
    dataset=Param("digits", choices=("digits", "file", *REAL), doc="8x8 digits, file (set by --data FILE.npz), or a "
                  "local copy (mnist, fashion_mnist, cifar10: with table=4 and data_root)"),
    data_root=Param("", doc="folder of a torchvision download (ROOT/MNIST/raw, ROOT/FashionMNIST/raw, "
                    "ROOT/cifar-10-batches-py); read, never fetched"),
    table=Param(0, choices=(0, 1, 2, 3, 4, 6), doc="a preset of Chiang et al.'s tables: 1 = poisoned vs clean SGD "
                "on LeNet, 2/3 = LeNet G&C vs SGD on 2-class MNIST/CIFAR-10, 6 = the same over LeNet widths, 4 = "
                "pattern search and random greedy vs SGD on ten classes (0: the check's own setting)"),
    t6_widths=Param([0.34, 0.5], full=[0.5, 1.0, 2.0], above=0, doc="table=6: LeNet width factors"),
    t23_n=Param([2, 4, 8, 16], full=[2, 4, 8, 16, 32], low=2, doc="table=1/2/3/6: training-set sizes (even)"),
    t23_loss_bins=Param([], full=[0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65], type=float, nonempty=False,
                        doc="table=2/3/6: normalized-loss bin edges (Chiang's 2-class MNIST bins 0.30-0.65 step 0.05; "
                            "divisor 3 per layer); G&C and SGD accuracies per bin, shown, not judged; empty: no bins"),
    t23_bin_runs=Param(3, full=10, low=1, doc="table=2/3/6 with bins: SGD runs per (cell, n, bin), frozen in the bin"),
    t23_draws=Param(20000, full=1_000_000, low=1, doc="table=2/3: LeNet G&C draws per cell"),
    t23_sgd_runs=Param(4, full=20, low=1, doc="table=1/2/3/6: SGD runs per (cell, n)"),
    lenet_width=Param(0.5, full=1.0, above=0, doc="table=1/2/3: LeNet width factor w"),
    t4_n=Param([100, 200], full=[100, 200, 500, 1000], low=10, doc="table=4: training-set sizes (multiples of 10)"),
    t4_seeds=Param(2, full=4, low=1, doc="table=4: data seeds (cells; label permutations on real data)"),
    t4_runs=Param(3, full=8, low=2, doc="table=4: runs per method and cell"),
    t4_sweeps=Param(2, full=10, low=1, doc="table=4: pattern-search sweeps"),
    t4_steps=Param(300, full=3000, low=1, doc="table=4: random-greedy steps"),
    t4_sgd_epochs=Param(400, low=1, doc="table=4: SGD epochs (400 in the paper)"),
    t4_arch=Param("mlp", choices=ARCHS, doc="table=4 on the digits: network (real data: LeNet)"),
    t4_width=Param(32, low=8, doc="table=4 on the digits: hidden width (cnn: channels = width // 8)"),
    t4_lenet_width=Param(1.0, above=0, doc="table=4 on real data: LeNet width factor w"),
    pairs=Param(3, full=8, low=1, high=45, doc="digit pairs drawn by the seed (ignored with classes or --data)"),
    classes=Param([], type=int, low=0, high=9, nonempty=False, doc="an explicit digit pair, e.g. 3,8"),
    n_train=Param([2, 4, 8, 16, 32], low=1, doc="training-set sizes (even for digits: balanced classes)"),
    arch=Param("mlp", choices=ARCHS, doc="network architecture"),
    widths=Param([32], low=1, doc="hidden widths (cnn: channels = width // 8)"),
    depth=Param(1, low=1, high=4, doc="hidden layers"),
    prior=Param("uniform", choices=tuple(PRIORS), doc="G&C prior over every parameter"),
    scale=Param(1.0, above=0, doc="prior scale (uniform: U(-scale, scale))"),
    bias=Param([True, False], doc="G&C with biases (Chiang et al.'s setting), without (Peleg & Hein's), or both"),
    methods=Param(list(METHODS), choices=METHODS, doc="methods run"),
    protocols=Param(["chiang", "peleg_hein"], choices=tuple(PROTOCOLS), doc="SGD protocols"),
    seeds=Param(1, full=2, low=1, doc="data seeds per pair (cells = pairs x seeds)"),
    draws=Param(60000, full=1_000_000, low=1, doc="G&C prior draws per (cell, width, bias)"),
    max_accepted=Param(600, full=4000, low=1, doc="test accuracies measured on the first this many accepted models per n"),
    sgd_runs_chiang=Param(12, full=40, low=1, doc="SGD runs per (cell, n), chiang protocol (stops at fit: cheap)"),
    sgd_runs_peleg_hein=Param(5, full=20, low=1, doc="SGD runs per (cell, n), peleg_hein protocol (60 epochs, batch 2)"),
    sgd_setting=Param("paper", full="all", choices=("paper", "all"),
                      doc="paper: chiang on the biased net, peleg_hein on the bias-free one; all: every pairing"),
    sgd_lr=Param(0.0, low=0, doc="SGD learning rate (0: each protocol's own)"),
    search_runs=Param(4, full=10, low=1, doc="pattern-search / random-greedy runs per (cell, n)"),
    search_n=Param([4, 8, 16], full=[4, 8, 16, 32], low=1, doc="n where the searches run (those also in n_train)"),
    search_sweeps=Param(4, full=10, low=1, doc="pattern-search sweeps"),
    search_steps=Param(600, full=3000, low=1, doc="random-greedy steps"),
    poison_n=Param([16], low=1, doc="n where poisoned SGD runs (those also in n_train; Chiang et al., Table 1)"),
    poison_count=Param(16, low=2, doc="held-out training images added with flipped labels (even; also table=1)"),
    normalization=Param("frobenius", choices=NORMALIZATIONS, doc="normalization of the training cross-entropy"),
    loss_bins=Param([], type=float, nonempty=False,
                    doc="G&C acceptance bin edges of the normalized loss, e.g. 0.60,0.65,0.70; empty: no bins"),
    margin=Param(5.0, above=0, below=50, doc="equivalence margin delta in accuracy points"),
    control_n=Param([4, 8], low=2, doc="n of the random-label control (even)"),
    control_reps=Param(12, full=60, low=2, doc="random labelings per (cell, n)"),
    control_draws=Param(3000, full=20_000, low=1, doc="G&C draws per random labeling"),
    kink_slab=Param(True, doc="draw the kink decision boundaries and slab fractions"),
    kink_n=Param(8, low=1, doc="kink training points (even)"),
    kink_margin=Param(0.5, above=0, below=1, doc="kink margin"),
    slab_n=Param(8, low=1, doc="slab training points (a multiple of 4)"),
    shape_draws=Param(100000, full=1_000_000, low=1, doc="G&C draws for the kink and slab"),
    boundary_models=Param(25, full=100, low=1, doc="solutions drawn per kink/slab method"),
    memory_mb=Param(64, low=1, doc="G&C batch memory in MiB"),
)


def prepare(p: dict, inputs: dict) -> dict:
    """``--data FILE.npz`` replaces the digits (validated when read; used as given)."""
    return fold_data(p, inputs)


def validate(p: dict) -> None:
    """The constraints between parameters (types and ranges are declared in :data:`PARAMS`)."""
    require(p["dataset"] != "file" or "data_file" in p, "dataset=file needs --data FILE.npz")
    if p["table"] in (1, 2, 3, 6):
        from verify.volume_hypothesis.lenet_tables import LOCAL
        local = LOCAL[p["table"]]
        require(p["dataset"] in ("digits", *local), f"table={p['table']} runs on digits (the 28x28 stand-in) or "
                f"{', '.join(local)}, not dataset={p['dataset']}")
        require(all(n % 2 == 0 for n in p["t23_n"]), f"t23_n must be even (balanced pairs), got {p['t23_n']}")
        require(p["poison_count"] % 2 == 0, f"poison_count must be an even integer >= 2, got {p['poison_count']}")
        edges = p["t23_loss_bins"]
        require(len(edges) != 1 and all(a < b for a, b in zip(edges, edges[1:])),
                f"t23_loss_bins must be increasing bin edges (>= 2), got {edges}")
        if p["dataset"] == "digits":
            from verify.volume_hypothesis.lenet_tables import stand_in_limit
            extra = p["poison_count"] if p["table"] == 1 else 0
            require(max(p["t23_n"]) + extra <= stand_in_limit(),
                    f"max(t23_n){' + poison_count' if extra else ''} must be <= {stand_in_limit()} on the digits "
                    "stand-in (twice its smallest class)")
        if p["dataset"] in REAL:
            from numerics.local_data import check_files
            check_files(p["dataset"], p["data_root"])
        return
    if p["table"] == 4:
        require(p["dataset"] in ("digits", *REAL), f"table=4 runs on digits or a local copy ({', '.join(REAL)}), "
                f"not dataset={p['dataset']}")
        require(all(n % 10 == 0 for n in p["t4_n"]), f"t4_n must be multiples of 10 (balanced classes), got {p['t4_n']}")
        if p["dataset"] == "digits":
            from numerics.datasets import _digits
            smallest = int(min(_digits()[1].tolist().count(c) for c in range(10)))
            require(max(p["t4_n"]) // 10 < smallest,
                    f"t4_n must be < {10 * smallest} on the digits ({smallest} images in the smallest class)")
        if p["dataset"] in REAL:
            from numerics.local_data import check_files
            check_files(p["dataset"], p["data_root"])
        return
    require(p["dataset"] not in REAL, f"dataset={p['dataset']} is available with the presets table=1, 2, 3, 4 or 6 only")
    ns = p["n_train"]
    if p["dataset"] == "digits":
        classes = p["classes"]
        require(not classes or (len(classes) == 2 and classes[0] != classes[1]),
                f"classes must be two distinct digits 0..9, e.g. 3,8; got {classes}")
        require(all(n % 2 == 0 for n in ns), f"n_train must be even (balanced pairs), got {ns}")
        require(max(ns) <= MAX_DIGIT_N, f"n_train must be <= {MAX_DIGIT_N} (80 images per class), got {max(ns)}")
    else:
        require(max(ns) <= p["data_n_train"],
                f"n_train must be <= {p['data_n_train']} (the --data training set), got {max(ns)}")
    require(p["arch"] != "cnn" or p["dataset"] == "digits" or p["data_dim"] == 64,
            "arch=cnn needs 8x8 images (64 features)")
    require(p["arch"] != "cnn" or min(p["widths"]) >= 8,
            f"cnn widths must be >= 8 (channels = width // 8), got {p['widths']}")
    require(len(set(p["bias"])) == len(p["bias"]), f"bias must be true, false or both, got {p['bias']}")
    require(p["poison_count"] % 2 == 0, f"poison_count must be an even integer >= 2, got {p['poison_count']}")
    require(p["dataset"] != "digits" or max(p["poison_n"], default=0) + p["poison_count"] <= MAX_DIGIT_N,
            f"poison_n + poison_count must be <= {MAX_DIGIT_N} (80 images per class)")
    cn = p["control_n"]
    require(all(n % 2 == 0 for n in cn), f"control_n must be even (balanced random labels), got {cn}")
    require(p["dataset"] == "digits" or max(cn, default=0) <= p["data_n_train"],
            "control_n exceeds the --data training set")
    edges = p["loss_bins"]
    require(len(edges) != 1 and all(a < b for a, b in zip(edges, edges[1:])),
            f"loss_bins must be increasing bin edges (>= 2), got {edges}")
    require(p["kink_n"] % 2 == 0 and p["slab_n"] % 4 == 0, "kink_n must be even and slab_n a multiple of 4")
