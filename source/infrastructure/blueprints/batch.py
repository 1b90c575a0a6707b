# SPDX-License-Identifier: Apache-2.0
"""byom_batch_pipeline.yaml: the Model and a batch transform job the stack starts when it is deployed.

A custom resource (lambdas/blueprints/invoke_on_deploy.py) calls the batch Lambda
(lambdas/blueprints/batch_transform.py) synchronously on create and update, so a job SageMaker refuses
fails the stack with SageMaker's message; the job's name and output location are stack outputs.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, CustomResource, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infrastructure.blueprints.functions import (
    BlueprintFunction,
    in_own_account,
    kms_grant_through_sagemaker,
    s3_arn,
    s3_uri,
    sagemaker_arn,
)
from infrastructure.blueprints.model import after_policies, sagemaker_model
from infrastructure.blueprints.parameters import declare
from infrastructure.nag import acknowledge
from lambdas.pipeline_orchestration.catalogue import BATCH
from lambdas.pipeline_orchestration.catalogue.batch import TRANSFORM_JOB_OUTPUT


class BatchTransformStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description="MLOps blueprint: SageMaker batch transform", **kwargs)
        p = declare(self, BATCH)
        parts = sagemaker_model(self, p)
        data = iam.CfnPolicy(
            self,
            "BatchData",
            policy_name="BatchData",
            roles=[parts.role.role_name],
            policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": s3_arn(p["BatchInputBucket"].value_as_string),
                        "Condition": in_own_account(),
                    },
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": s3_arn(Fn.join("", [p["BatchInferenceData"].value_as_string, "*"])),
                        "Condition": in_own_account(),
                    },
                    {
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": s3_arn(Fn.join("", [p["BatchOutputLocation"].value_as_string, "/*"])),
                        "Condition": in_own_account(),
                    },
                ],
            },
        )
        acknowledge(
            data,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<BatchInferenceData>*]",
                "The input is a key or a prefix: the job reads the objects it names",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<BatchOutputLocation>/*]",
                "The job writes one output object per input object under the requested prefix",
            ),
        )

        code = s3.Bucket.from_bucket_name(self, "Blueprints", p["BlueprintBucket"].value_as_string)
        job = BlueprintFunction(
            self,
            "BatchTransform",
            handler="lambdas.blueprints.batch_transform.handler",
            code_bucket=code,
            description="Starts the pipeline's batch transform job",
            statements=[
                iam.PolicyStatement(
                    actions=["sagemaker:CreateTransformJob", "sagemaker:AddTags"],
                    resources=[sagemaker_arn("transform-job/*")],
                ),
                # A transform job with a volume key needs its creator to be allowed to grant SageMaker the key.
                kms_grant_through_sagemaker(),
            ],
        )
        invoker = BlueprintFunction(
            self,
            "InvokeOnDeploy",
            handler="lambdas.blueprints.invoke_on_deploy.handler",
            code_bucket=code,
            description="Runs the batch job Lambda when the stack is created or updated",
            timeout=Duration.minutes(5),
            statements=[iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[job.function.function_arn])],
        )
        acknowledge(
            job,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:transform-job/*]",
                "Each deployment starts a job with a new name (<model>-batch-transform-<hash of the request>)",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]",
                "The key is chosen per request; grants only through SageMaker (kms:ViaService)",
            ),
        )
        transform = CustomResource(
            self,
            "BatchTransformJob",
            service_token=invoker.function.function_arn,
            resource_type="Custom::BatchTransform",
            properties={
                "FunctionName": job.function.function_name,
                "ModelName": parts.model.attr_model_name,
                "JobPrefix": p["ModelName"].value_as_string,
                "InstanceType": p["InferenceInstance"].value_as_string,
                "InputLocation": p["BatchInferenceData"].value_as_string,
                "OutputLocation": p["BatchOutputLocation"].value_as_string,
                "KmsKeyArn": p["KmsKeyArn"].value_as_string,
            },
        )
        transform.node.add_dependency(data)
        transform.node.add_dependency(after_policies(self, "JobPermissions", parts.policies))

        CfnOutput(self, "SageMakerModelName", value=parts.model.attr_model_name)
        CfnOutput(self, TRANSFORM_JOB_OUTPUT, value=transform.get_att_string("JobName"))
        CfnOutput(self, "BatchTransformOutputLocation", value=s3_uri(p["BatchOutputLocation"].value_as_string))
