# SPDX-License-Identifier: Apache-2.0
"""CloudFormation parameters of the blueprints, declared from the catalogue.

`declare` creates exactly the parameters a catalogue Blueprint declares (`catalogue/parameters.py`: name,
description, constraint), in its order, so a template cannot drift from the catalogue.
"""

from __future__ import annotations

from aws_cdk import CfnParameter, Stack

from infrastructure.boundary import PARAMETER as BOUNDARY_PARAMETER
from infrastructure.boundary import bound_every_role
from lambdas.pipeline_orchestration.spec import Blueprint


def declare(stack: Stack, blueprint: Blueprint) -> dict[str, CfnParameter]:
    """Declare the blueprint's parameters, exactly as the catalogue declares them, in its order."""
    declared = {p.name: CfnParameter(stack, p.name, **p.cloudformation()) for p in blueprint.declared}
    if BOUNDARY_PARAMETER in declared:
        bound_every_role(stack, declared[BOUNDARY_PARAMETER])
    return declared


def declare_parameters(stack: Stack, blueprint: Blueprint) -> dict[str, str]:
    """`declare`, answering each parameter's Ref token by name (what the job blueprints read)."""
    return {name: parameter.value_as_string for name, parameter in declare(stack, blueprint).items()}
