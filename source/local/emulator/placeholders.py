# SPDX-License-Identifier: Apache-2.0
"""Placeholders for the resource types our templates use that moto's CloudFormation does not model."""

from __future__ import annotations

from lambdas.pipeline_orchestration.catalogue import blueprints

from .cloudwatch import create_stack_alarm, delete_stack_alarm
from .monitoring import JOB_DEFINITIONS, MONITORING_RUNS, record_job_definition
from .open_engine import delete_schedule, record_schedule
from .sagemaker import MONITORING_SCHEDULES, _record_monitoring_schedule

# Resource types our templates use that moto's CloudFormation does not model. The emulator records them as
# placeholders (named, with ARNs for Fn::GetAtt) so that stacks holding them deploy. CodePipeline pipelines
# among them are run by the local pipeline runner, monitoring schedules (with their job definitions) by the
# monitoring clock, and alarms are created in moto's CloudWatch, where the emulator evaluates them.
PLACEHOLDER_TYPES = {
    "AWS::ApiGateway::Account": "",
    "AWS::ApiGateway::Model": "Name",
    "AWS::ApiGateway::RequestValidator": "Name",
    "AWS::ApiGateway::Stage": "StageName",
    "AWS::ApplicationAutoScaling::ScalableTarget": "",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "PolicyName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::Scheduler::Schedule": "Name",  # an open monitor's schedule, run by the monitoring clock
    # The SageMaker resources the blueprints create, as the catalogue declares them (moto's own are kept).
    **{c.cloudformation_type: c.name_property for b in blueprints() for c in b.creates},
}


_PLACEHOLDERS: dict[str, type] = {}


def register_placeholder_resources() -> None:
    """Teach moto's CloudFormation the PLACEHOLDER_TYPES (idempotent)."""
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel

    known = parsing.get_model_map()
    for resource_type, name_property in PLACEHOLDER_TYPES.items():
        if resource_type not in known and resource_type not in _PLACEHOLDERS:
            # Held here: moto finds models through __subclasses__, which keeps only weak references.
            _PLACEHOLDERS[resource_type] = _placeholder_model(CloudFormationModel, resource_type, name_property)
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def _placeholder_model(base: type, resource_type: str, name_property: str) -> type:
    _, service, kind = resource_type.split("::")

    class Placeholder(base):  # type: ignore[misc, valid-type]
        def __init__(self, name: str, properties: dict, account_id: str, region: str) -> None:
            self.name, self.properties = name, properties
            self.arn = f"arn:aws:{service.lower()}:{region}:{account_id}:{kind.lower()}/{name}"
            self._key = (account_id, region, name)
            if resource_type == "AWS::SageMaker::MonitoringSchedule":
                _record_monitoring_schedule(name, properties, account_id, region)
            elif resource_type.startswith("AWS::SageMaker::") and resource_type.endswith("JobDefinition"):
                record_job_definition(name, properties, account_id, region)
            elif resource_type == "AWS::CloudWatch::Alarm":
                create_stack_alarm(name, properties, account_id, region)
            elif resource_type == "AWS::Scheduler::Schedule":
                record_schedule(name, properties, account_id, region)

        def delete(self, account_id: str, region: str) -> None:
            key = getattr(self, "_key", ("", "", ""))
            if resource_type == "AWS::SageMaker::MonitoringSchedule":
                MONITORING_SCHEDULES.pop(key, None)
                MONITORING_RUNS.pop(key, None)
            elif resource_type.endswith("JobDefinition"):
                JOB_DEFINITIONS.pop(key, None)
            elif resource_type == "AWS::CloudWatch::Alarm":
                delete_stack_alarm(self.name, account_id, region)
            elif resource_type == "AWS::Scheduler::Schedule":
                delete_schedule(*key)

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @staticmethod
        def cloudformation_name_type() -> str:
            return name_property

        @staticmethod
        def cloudformation_type() -> str:
            return resource_type

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return True

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.arn if attribute_name.endswith("Arn") else self.name

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[no-untyped-def]
            return cls(resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        ):  # type: ignore[no-untyped-def]
            # A resource moto did not keep (None) is created; a changed name replaces the resource, as
            # CloudFormation replaces one whose name property changes; otherwise it keeps its name.
            properties = cloudformation_json.get("Properties", {})
            renamed = original_resource is None or (name_property and name_property in properties)
            name = new_resource_name if renamed else original_resource.name
            if original_resource is not None and original_resource.name != name:
                original_resource.delete(account_id, region_name)
            return cls(name, properties, account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):  # type: ignore[no-untyped-def]
            return None

    Placeholder.__name__ = Placeholder.__qualname__ = f"Placeholder{service}{kind}"
    return Placeholder
