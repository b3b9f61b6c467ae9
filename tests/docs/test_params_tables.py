"""tools/gendocs/params.py on the shapes the kinds' schemas take or are about to take: a discriminated
union at the root, `x-when` / `x-advanced` fields, nested and union-typed objects, default factories."""
from typing import Annotated, Literal, Union

from pydantic import Field, TypeAdapter

from ml.params import PRESETS, Param, Strict
from tools.gendocs.params import defaults_of, render


class Inner(Strict):
    """A nested object."""
    width: int = Field(64, ge=4, le=4096, description="Hidden units.")


class Flow(Strict):
    objective: Literal["rectified_flow", "slimflow"] = "rectified_flow"
    steps: int = Field(500, ge=1, description="Optimiser steps.")
    guidance: float = Param(1.0, when={"objective": ["slimflow"]}, advanced=True, description="slimflow | only.")
    net: Inner = Field(default_factory=Inner)


class Dna(Strict):
    objective: Literal["masked_diffusion"]
    steps: int = Field(500, ge=1, description="Optimiser steps.")
    split: Literal[0, 1] = 0


Root = Annotated[Union[Flow, Dna], Field(discriminator="objective")]


def rows(text):
    return {line.split(" | ")[0].strip("| `").split("`")[0]: line.split(" | ") for line in text.splitlines()
            if line.startswith("| `")}


def test_a_root_union_is_one_table_whose_fields_say_which_objectives_have_them():
    text = render(TypeAdapter(Root).json_schema(), defaults_of(Root))
    main = text.split("\n\n")[0]
    r = rows(main)
    assert r["objective"][1] == "one of `rectified_flow`, `slimflow`, `masked_diffusion`"
    assert r["steps"][4] == ""  # in every variant: no condition
    assert r["split"][4] == "objective: `masked_diffusion`"
    assert r["guidance"][4] == "objective: `slimflow`"  # its own x-when, within the variant that has it
    assert main.count("| `steps`") == 1


def test_a_field_whose_default_differs_between_variants_is_a_row_per_version():
    class Dna2(Dna):
        steps: int = Field(2000, ge=1, description="Optimiser steps.")

    union = Annotated[Union[Flow, Dna2], Field(discriminator="objective")]
    lines = [line for line in render(TypeAdapter(union).json_schema()).splitlines() if line.startswith("| `steps`")]
    # two of three objectives: shorter said by the one it leaves out
    assert lines == ["| `steps` | int | `500` | ≥ 1 | objective: not `masked_diffusion` | Optimiser steps. |",
                     "| `steps` | int | `2000` | ≥ 1 | objective: `masked_diffusion` | Optimiser steps. |"]


def test_a_field_says_advanced_its_range_and_escapes_a_pipe():
    r = rows(render(Flow.model_json_schema(), defaults_of(Flow)))
    assert r["guidance"][0] == "| `guidance` (advanced)"
    assert r["guidance"][5].startswith("slimflow \\| only.")
    assert r["steps"][3] == "≥ 1"


def test_a_nested_object_gets_its_own_table_with_its_factory_default():
    text = render(Flow.model_json_schema(), defaults_of(Flow))
    assert "| `net` | `Inner` | defaults of `Inner` |" in text
    assert "**`Inner`** (in `net`): A nested object." in text
    assert "| `width` | int | `64` | [4, 4096] | Hidden units. |" in text  # no condition: no "applies when"


def test_presets_are_listed():
    schema = {**Flow.model_json_schema(), PRESETS: {"quick demo": {"steps": 10}}}
    assert "- **quick demo**: `{\"steps\": 10}`" in render(schema)


def test_presets_of_a_root_unions_variants_are_listed():
    class Demo(Flow):
        model_config = {**Flow.model_config, "json_schema_extra": {PRESETS: {"paper config": {"steps": 100000}}}}

    union = Annotated[Union[Demo, Dna], Field(discriminator="objective")]
    assert "- **paper config**: `{\"steps\": 100000}`" in render(TypeAdapter(union).json_schema())


def test_a_rule_naming_all_but_one_choice_says_which_one_it_leaves_out():
    class Sample(Strict):
        sampler: Literal["ddim", "heun", "euler", "mdlm"] | None = None
        grid: str = Param("uniform", when={"sampler": [None, "ddim", "heun", "euler"]}, description="Time grid.")
        temperature: float = Param(1.0, when={"sampler": ["mdlm"]}, description="Masked only.")

    r = rows(render(Sample.model_json_schema()))
    assert r["grid"][4] == "sampler: not `mdlm`"
    assert r["temperature"][4] == "sampler: `mdlm`"
