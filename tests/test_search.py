"""The search against real data, real training and a real Optuna study."""

from __future__ import annotations

import pytest

from nas.boards import Budget, budget_for, figures, get_board
from nas.errors import TinyzooError
from nas.profile import profile_for_budget, profile_spec
from nas.search import check_feasible, run_study
from searchspaces import ArchSpec, get_space, list_spaces


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sampler", "budget"),
    [
        ("tpe", Budget(ram_bytes=6000, flash_bytes=None)),  # about half of the space is over it
        # muNAS's MNIST budget on its own definitions (paper peak, one byte per parameter)
        ("random", Budget(None, None, max_peak_bytes=2500, max_weight_bytes=4500)),
    ],
    ids=["tpe-ram", "random-munas"],
)
def test_infeasible_trials_never_reach_training(sampler: str, budget: Budget) -> None:
    import optuna

    from nas.data import load_task
    from nas.train import train

    data = load_task("digits")
    trained = []
    storage = optuna.storages.InMemoryStorage()

    def trainer(spec, seed, report):  # the real proxy trainer, recording what it is given
        trained.append(spec)
        return train(
            spec,
            data.x_train,
            data.y_train,
            data.x_val,
            data.y_val,
            epochs=4,
            seed=seed,
            batch_size=32,
            on_epoch=report,
        ).val_accuracy

    result = run_study(
        space=get_space("dscnn"),
        geometry=data.geometry(),
        budget=budget,
        trainer=trainer,
        trials=10,
        timeout=None,
        seed=1,
        storage=storage,
        study_name="t",
        sampler=sampler,
    )
    assert result.outcomes["infeasible"] > 0
    assert result.outcomes["complete"] + result.outcomes["pruned"] == len(trained) > 0
    for spec in trained:
        p = profile_spec(spec)
        fields = dict(arena_bytes=p.arena_bytes, tflite_bytes=p.tflite_bytes, macs=p.macs)
        assert not budget.violations(**fields, peak_bytes=p.paper_peak_bytes, params=p.params)
    assert result.ranked and all(c.spec in trained for c in result.ranked)
    assert result.ranked[0].val_accuracy > 0.3  # real learning happened, even in 4 epochs
    other = "random" if sampler == "tpe" else "tpe"
    with pytest.raises(TinyzooError, match=f"started with --sampler '{sampler}'; .* '{other}'"):
        run_study(
            space=get_space("dscnn"), geometry=data.geometry(), budget=budget, trainer=trainer,
            trials=10, timeout=None, seed=1, storage=storage, study_name="t", sampler=other,
        )  # fmt: skip


def test_unmeetable_budget_fails_before_training_naming_the_smallest() -> None:
    from nas.data import load_task

    space = get_space("dscnn")
    with pytest.raises(TinyzooError, match=r"smallest.*needs a TFLM arena of \d+ B") as err:
        check_feasible(space, load_task("digits").geometry(), budget_for(None, max_ram=100))
    assert "--max-ram" in str(err.value)


@pytest.mark.parametrize("board", ["uno", "l010", "nano33ble", "h743"])
def test_board_budgets_are_memory_minus_reserves(board: str) -> None:
    b = get_board(board)
    budget = budget_for(b)
    assert budget.ram_bytes == b.sram_bytes - b.ram_reserved > 0
    assert budget.flash_bytes == b.flash_bytes - b.flash_reserved > 0
    assert budget_for(b, max_ram=1234).ram_bytes == 1234


@pytest.mark.parametrize("space", [s.name for s in list_spaces()])
def test_space_decode_is_pure_and_round_trips(space: str) -> None:
    import optuna

    from searchspaces import ArchSpec
    from searchspaces._registry import Geometry

    sp = get_space(space)
    geometry = Geometry(resolutions=(12, 16, 20), channels=1, num_classes=10)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        params = sp.sample(trial, geometry)
        spec = sp.decode(params, geometry)
        assert sp.decode(params, geometry) == spec
        assert ArchSpec.parse(str(spec)) == spec
        study.tell(trial, 0.0)


def test_pareto_front_keeps_exactly_the_non_dominated() -> None:
    from nas.search import Candidate, pareto_front

    spec = ArchSpec.parse("r8x8x1_c3s2c4_ds3s2c8_gap_fc10")
    c = [Candidate(spec, acc, i, ms) for i, (acc, ms) in enumerate(
        [(0.90, 10.0), (0.95, 30.0), (0.85, 12.0), (0.95, 40.0), (0.80, 2.0), (0.90, 10.0)]
    )]  # fmt: skip
    # (0.85, 12) loses to (0.90, 10); (0.95, 40) to (0.95, 30); equal points both stay.
    assert [x.trial for x in pareto_front(c)] == [0, 1, 4, 5]


@pytest.mark.parametrize("text", ["latency", "accuracy,flash", "", "latency,accuracy"])
def test_unsupported_objectives_are_refused(text: str) -> None:
    from nas.search import check_objectives

    with pytest.raises(TinyzooError, match="--objectives"):
        check_objectives(text)
    assert check_objectives("accuracy, latency") == ("accuracy", "latency")


@pytest.mark.slow
def test_accuracy_latency_search_returns_its_pareto_front_first() -> None:
    import optuna

    from nas.data import load_task
    from nas.train import train

    data = load_task("digits")
    budget = budget_for(get_board("l010"))

    def trainer(spec, seed, report):  # the real proxy trainer; nothing may prune it
        return train(
            spec, data.x_train, data.y_train, data.x_val, data.y_val, epochs=2, seed=seed,
            batch_size=64, on_epoch=report,
        ).val_accuracy  # fmt: skip

    result = run_study(
        space=get_space("dscnn"), geometry=data.geometry(), budget=budget, trainer=trainer,
        trials=8, timeout=None, seed=0, storage=optuna.storages.InMemoryStorage(),
        study_name="pareto", objectives=("accuracy", "latency"),
    )  # fmt: skip
    assert result.outcomes["pruned"] == 0 and result.front
    assert result.ranked[: len(result.front)] == result.front
    for c in result.ranked:
        p = profile_spec(c.spec)
        assert c.latency_ms == pytest.approx(budget.latency_ms(p.macs, len(p.layers)), abs=1e-3)
    for f in result.front:  # nothing trained beats a front member on both counts
        assert not any(
            o.val_accuracy > f.val_accuracy and o.latency_ms < f.latency_ms for o in result.ranked
        )


@pytest.mark.parametrize(
    ("board", "limits", "name"),
    [
        ("nano33ble", {"max_ram": 32_768}, "kws-nano33ble"),
        (None, {"max_ram": 64_000, "max_flash": 64_000}, "kws-64k"),
        (None, {"max_ram": 32_768, "max_flash": 65_536}, "kws-32k"),  # KiB round down
        (None, {"max_peak": 2_500, "max_weights": 4_500}, "kws-2k"),  # muNAS's MNIST budget
        (None, {"max_macs": 1_000_000}, "kws-custom"),
        (None, {"max_ram": 500}, "kws-1k"),
    ],
)
def test_zoo_names_follow_the_board_or_the_memory_budget(
    board: str | None, limits: dict, name: str
) -> None:
    from nas.pipeline import zoo_name

    b = get_board(board) if board else None
    assert zoo_name("kws", b, budget_for(b, **limits)) == name


@pytest.mark.slow
def test_a_speech_search_starts_from_the_ds_cnn_scaled_to_fit_and_random_search_does_not() -> None:
    import optuna

    from nas.data import load_task
    from nas.train import train

    data = load_task("kws").subset(240, seed=0)
    budget = budget_for(None, max_ram=32_768, max_flash=65_536, max_macs=1_208_384)

    def trainer(spec, seed, report):  # the real trainer, one short epoch
        return train(
            spec, data.x_train, data.y_train, data.x_val, data.y_val, epochs=1, seed=seed,
            batch_size=64, on_epoch=report,
        ).val_accuracy  # fmt: skip

    first = {}
    for sampler in ("tpe", "random"):
        storage = optuna.storages.InMemoryStorage()
        result = run_study(
            space=get_space("dscnn"), geometry=data.geometry(), budget=budget, trainer=trainer,
            trials=2, timeout=None, seed=0, storage=storage, study_name="s", sampler=sampler,
        )  # fmt: skip
        trials = optuna.load_study(study_name="s", storage=storage).trials
        assert len(trials) == 2 and sum(result.outcomes.values()) == 2  # the seed is one of 2
        first[sampler] = trials[0]
    # The DS-CNN shape scaled by width first: 4 blocks at 64 and 48 channels break 1.2 M MACs,
    # 4 at 32 fit (3 blocks at 48 would have more MACs, but depth goes first), the stem at
    # stride 1 and the first block at stride 2 first, the stem widened first, the blocks after
    # the first adding their input first: 48 channels need a 36,016 B arena, over the 32 KiB,
    # 40 fit (30,976 B, 889,784 MACs).
    seed = "r49x10x1_c3s1c40_ds3s2c32_" + "mb3s1c32r_" * 3 + "gap_fc12"
    assert first["tpe"].user_attrs["arch"] == seed
    assert first["tpe"].user_attrs["outcome"] == "complete" and first["tpe"].values[0] > 0
    assert first["random"].user_attrs["arch"] != seed


@pytest.mark.slow
def test_a_model_the_estimate_puts_over_the_flash_limit_is_converted_before_it_is_rejected() -> (
    None
):
    """The DS-CNN at 32 channels (stem at stride 1) under a flash limit between its file
    (14,064 B) and its size estimate (14,329 B), an upper bound: the estimate alone would
    reject it; the converted file decides."""
    from nas.data import load_task
    from nas.quantize import convert_int8
    from nas.search import _seed_trial
    from nas.train import train

    limit = 14_100
    budget = budget_for(None, max_flash=limit, max_macs=1_208_384)
    spec = ArchSpec.parse("r49x10x1_c3s1c32_ds3s2c32_" + "ds3s1c32_" * 3 + "gap_fc12")
    assert profile_spec(spec).tflite_bytes > limit  # the estimate alone would reject it
    p = profile_for_budget(spec, budget)
    assert not p.tflite_estimated and p.tflite_bytes <= limit
    # The exact figure is the trained model's .tflite, to the byte.
    data = load_task("kws").subset(240, seed=0)
    model = train(
        spec, data.x_train, data.y_train, data.x_val, data.y_val, epochs=1, seed=0, batch_size=64
    ).model
    assert len(convert_int8(model, data.x_train[:16])) == p.tflite_bytes
    # So the speech search's first trial is that DS-CNN, scaled by width to fit.
    seed = _seed_trial(get_space("dscnn"), data.geometry(), budget)
    assert seed is not None and str(get_space("dscnn").decode(seed, data.geometry())) == str(spec)
    # A model over the limit even at the estimate's loosest is not converted.
    far = ArchSpec.parse("r49x10x1_c3s2c64_" + "ds3s1c64_" * 4 + "gap_fc12")
    assert profile_for_budget(far, budget_for(None, max_flash=limit)).tflite_estimated


def test_a_study_whose_space_has_since_changed_is_refused_before_any_trial() -> None:
    """A dscnn study from before the space gained 40- and 48-channel stems: Optuna would stop
    in the middle of `optimize` ("dynamic value space"); the search refuses it up front."""
    import optuna
    from optuna.distributions import CategoricalDistribution

    from searchspaces._registry import Geometry

    g = Geometry(resolutions=(8,), channels=1, num_classes=10)
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="old", storage=storage)
    study.add_trial(optuna.trial.create_trial(
        params={"stem_channels": 32}, value=0.5,
        distributions={"stem_channels": CategoricalDistribution([4, 8, 12, 16, 24, 32])},
    ))  # fmt: skip

    def trainer(spec, seed, report):  # noqa: ANN001, ANN202
        raise AssertionError("no trial may train")

    said = r"'dscnn' space: its 'stem_channels' drew from \[4, .*, 32\], the space now from \[4, "
    with pytest.raises(TinyzooError, match=said + r".*, 40, 48\]. Use another --study name"):
        run_study(
            space=get_space("dscnn"), geometry=g, budget=budget_for(None, max_ram=100_000),
            trainer=trainer, trials=3, timeout=None, seed=0, storage=storage, study_name="old",
        )  # fmt: skip
    assert len(optuna.load_study(study_name="old", storage=storage).trials) == 1
    # The same trial drawn from today's choices resumes.
    now = optuna.create_study(study_name="new", storage=storage)
    now.add_trial(optuna.trial.create_trial(
        params={"stem_channels": 32}, value=0.5,
        distributions={"stem_channels": CategoricalDistribution(get_space("dscnn").stem_channels)},
    ))  # fmt: skip
    from nas.search import check_choices

    check_choices(storage, "new", get_space("dscnn"), g)
    check_choices(storage, "none yet", get_space("dscnn"), g)  # nothing to check, none made
    # A later block's question (asked only with more blocks) is checked too.
    late = optuna.create_study(study_name="late", storage=storage)
    late.add_trial(optuna.trial.create_trial(
        params={"b3_residual": True}, value=0.5,
        distributions={"b3_residual": CategoricalDistribution([True, False])},
    ))  # fmt: skip
    with pytest.raises(TinyzooError, match="its 'b3_residual' drew from \\[True, False\\]"):
        check_choices(storage, "late", get_space("dscnn"), g)
    assert optuna.get_all_study_names(storage) == ["old", "new", "late"]


def test_a_study_refuses_another_board_task_or_data_where_it_recorded_them() -> None:
    """f446 and max78000 have the same budget; the board decides the latency estimate and the
    zoo name, so a study of one is not resumed for the other. Studies from before the board,
    task and data were recorded (their settings one attribute each) resume as they did."""
    import optuna

    from nas.search import SETTINGS_ATTR, check_resume, settings_of, study_attrs

    storage = optuna.storages.InMemoryStorage()
    assert study_attrs(storage, "s") is None  # read, not created
    assert optuna.get_all_study_names(storage) == []
    study = optuna.create_study(study_name="s", storage=storage)
    f446 = budget_for(get_board("f446"))
    assert f446.to_dict() == budget_for(get_board("max78000")).to_dict()
    same = {"board": "f446", "task": "digits", "data": None}
    kw = {"space": "dscnn", "budget": f446, "sampler": "tpe", "objectives": ("accuracy",)}
    study.set_user_attr(SETTINGS_ATTR, settings_of(**kw, identity=same))  # as run_study does
    meta = study_attrs(storage, "s")
    check_resume(meta, "s", **kw, identity=same)
    check_resume(meta, "s", **kw)  # a worker on this machine: the main process checked
    for key, other in (("board", "max78000"), ("task", "my-words"), ("data", "3f2a")):
        with pytest.raises(TinyzooError, match=f"started with {key} .*this run asks for '{other}'"):
            check_resume(meta, "s", **kw, identity={**same, key: other})
    with pytest.raises(TinyzooError, match="started with --sampler 'tpe'; .* 'random'"):
        check_resume(meta, "s", **{**kw, "sampler": "random"}, identity=same)
    old = {"space": "dscnn", "budget": f446.to_dict()}  # an earlier version's attributes
    check_resume(old, "s", **kw, identity={**same, "board": "max78000"})
    with pytest.raises(TinyzooError, match="started with objectives \\['accuracy'\\]"):
        check_resume(old, "s", **{**kw, "objectives": ("accuracy", "latency")})
    check_resume({}, "s", **kw, identity=same)  # being created: its settings not yet written


def test_a_search_resumes_its_study_under_the_default_name_it_had_before(tmp_path) -> None:
    """Default names gained a hash of the budget, sampler and objectives on 2026-11-29; a
    search interrupted before keeps its trials under its old name, which a rerun finds."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    from nas.pipeline import _pick_study, default_study
    from nas.search import check_resume

    dscnn = get_space("dscnn")
    budget = budget_for(get_board("f446"))
    settings = {"budget": budget.to_dict(), "sampler": "tpe", "objectives": ["accuracy"]}
    new, old = (
        default_study("digits-f446", dscnn, 0, settings=settings),
        default_study("digits-f446", dscnn, 0),
    )
    assert new != old

    def resumable(name: str, st) -> None:  # noqa: ANN001
        from nas.search import study_attrs

        check_resume(study_attrs(st, name), name, space="dscnn", budget=budget, sampler="tpe",
                     objectives=("accuracy",))  # fmt: skip

    studies = tmp_path / "studies"
    studies.mkdir()
    assert _pick_study([new, old], studies, None, resumable) == (new, studies / f"{new}.log", None)
    assert list(studies.iterdir()) == []  # nothing written while choosing
    st = optuna.storages.JournalStorage(JournalFileBackend(str(studies / f"{old}.log")))
    study = optuna.create_study(study_name=old, storage=st)
    study.set_user_attr("space", "dscnn")
    study.set_user_attr("budget", budget.to_dict())
    name, journal, storage = _pick_study([new, old], studies, None, resumable)
    assert (name, journal) == (old, studies / f"{old}.log") and storage is not None
    # An old study started with other settings is left alone: a new study is started.
    study.set_user_attr("sampler", "random")
    assert _pick_study([new, old], studies, None, resumable)[0] == new
    # The name asked for (or today's default) is refused with the reason instead.
    with pytest.raises(TinyzooError, match="started with --sampler 'random'"):
        _pick_study([old], studies, None, resumable)


def test_the_default_study_name_changes_with_what_a_resume_is_checked_against() -> None:
    from dataclasses import replace

    from nas.boards import budget_for, get_board
    from nas.pipeline import default_study

    dscnn = get_space("dscnn")
    nano = get_board("nano33ble")
    plain = {"budget": budget_for(nano).to_dict(), "sampler": "tpe", "objectives": ["accuracy"]}
    name = default_study("kws-nano33ble", dscnn, 0, settings=plain)
    assert name.startswith("kws-nano33ble-dscnn-") and name.endswith("-s0")
    assert default_study("kws-nano33ble", get_space("dscnn"), 0, settings=dict(plain)) == name
    before = replace(dscnn, stem_channels=(4, 8, 12, 16, 24, 32))  # as before 40 and 48
    assert default_study("kws-nano33ble", before, 0, settings=plain) != name
    # The same board's zoo name with a budget field overridden, another sampler or other
    # objectives: run_study would refuse to resume the plain command's study with them.
    for other in (
        {**plain, "budget": budget_for(nano, max_flash=16_000).to_dict()},
        {**plain, "sampler": "random"},
        {**plain, "objectives": ["accuracy", "latency"]},
    ):
        assert default_study("kws-nano33ble", dscnn, 0, settings=other) != name
    # A user's folder: its arrays are in the name, so other data starts another study.
    from nas.data import load_task

    digits = load_task("digits")
    other_data = replace(digits, y_test=digits.y_test[::-1].copy())
    with_data = default_study("mine-l010", dscnn, 0, digits, settings=plain)
    assert with_data.startswith("mine-l010-dscnn-") and with_data.endswith("-s0")
    assert with_data != default_study("mine-l010", dscnn, 0, settings=plain)
    assert default_study("mine-l010", dscnn, 0, digits, settings=plain) == with_data
    assert default_study("mine-l010", dscnn, 0, other_data, settings=plain) != with_data


def test_an_image_search_starts_from_the_widest_member_narrowed_to_fit() -> None:
    """fashion: the widest dscnn member (28x28, blocks of 64) fits muNAS's 64,000 B budget and
    is the first trial; under 16,000 B of RAM the first that fits is narrower, still 28x28."""
    from nas.search import _seed_trial
    from searchspaces._registry import Geometry

    sp = get_space("dscnn")
    g = Geometry(resolutions=(12, 16, 20, 24, 28), channels=1, num_classes=10)
    roomy = _seed_trial(sp, g, budget_for(None, max_ram=64_000, max_flash=64_000))
    assert roomy is not None and sp.decode(roomy, g) == sp.widest(g)
    tight = budget_for(None, max_ram=16_000)
    narrow = _seed_trial(sp, g, tight)
    assert narrow is not None
    spec = sp.decode(narrow, g)
    assert spec.input_shape[0] == 28 and spec.blocks[0].channels < 64
    assert not tight.violations(**figures(profile_for_budget(spec, tight)))
    # Each wider seed breaks the budget: the first that fits is the widest that fits.
    wider = [p for p in sp.seeds(g) if p["b0_channels"] > narrow["b0_channels"]]
    assert wider and all(
        tight.violations(**figures(profile_for_budget(sp.decode(p, g), tight))) for p in wider
    )
