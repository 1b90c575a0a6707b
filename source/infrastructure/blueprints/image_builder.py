# SPDX-License-Identifier: Apache-2.0
"""byom_custom_algorithm_image_builder.yaml: S3 source on the user's zip -> CodeBuild docker build and push.

The image goes to `<account>.dkr.ecr.<region>.amazonaws.com/<ECRRepoName>:<ImageTag>`; the pipeline runs
when the stack is created and whenever the zip is written again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnCondition, CfnOutput, Fn, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infrastructure.blueprints.functions import (
    blueprint_pipeline,
    console_url,
)
from infrastructure.blueprints.model import after_policies
from infrastructure.blueprints.network import CODEBUILD, declare_network
from infrastructure.blueprints.parameters import declare
from infrastructure.blueprints.single_account_pipeline import source_stage
from infrastructure.nag import acknowledge
from lambdas.blueprints import image_build
from lambdas.pipeline_orchestration.catalogue import IMAGE_BUILDER

# A tag already in the repository fails the build with the reason (tags are immutable, the push would fail
# after the whole build); then Docker Hub FROM lines go through the pull-through cache when the stack names one.
TAG_CHECK = (
    'TAKEN=$(aws ecr list-images --repository-name "$REPOSITORY" --filter tagStatus=TAGGED'
    " --query \"imageIds[?imageTag=='$IMAGE_TAG'].imageTag\" --output text)"
    ' && if [ -n "$TAKEN" ]; then echo "refused: $REPOSITORY:$IMAGE_TAG exists already; tags are immutable:'
    ' provision the image builder with a new image_tag"; exit 1; fi'
)
RESOLVE_FROM = (
    'if [ -n "$DOCKER_HUB_CACHE" ]; then python3 -c "$REWRITE_FROM" Dockerfile "$DOCKER_HUB_CACHE";'
    ' else echo "docker hub cache: none; FROM lines are pulled as written"; fi'
)
BUILD_SPEC = {
    "version": "0.2",
    "phases": {
        "pre_build": {
            "commands": [
                "aws ecr get-login-password --region $AWS_REGION"
                " | docker login --username AWS --password-stdin $REGISTRY",
                TAG_CHECK,
                # Entry points of SageMaker containers must be executable, whatever the zip kept.
                "find . -type f \\( -name serve -o -name train \\) -exec chmod +x {} +",
                RESOLVE_FROM,
            ]
        },
        "build": {"commands": ["docker build -t $IMAGE_URI ."]},
        "post_build": {"commands": ["docker push $IMAGE_URI"]},
    },
}
# The Dockerfile step's source, run by the build as `python3 -c` (standard library only).
REWRITE_FROM_SOURCE = Path(image_build.__file__).read_text()


class ImageBuilderStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description="MLOps blueprint: builds a custom algorithm image and pushes it to ECR",
            **kwargs,
        )
        p = declare(self, IMAGE_BUILDER)
        assets = s3.Bucket.from_bucket_name(self, "Assets", p["AssetsBucket"].value_as_string)
        registry = f"{Aws.ACCOUNT_ID}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}"
        image_uri = Fn.join("", [registry, "/", p["ECRRepoName"].value_as_string, ":", p["ImageTag"].value_as_string])
        # The build pushes only to the repositories the orchestrator names (its own and AllowedImageRepositories),
        # whatever ECRRepoName says: a request's name alone never widens the grant.
        push_arns = Fn.split(",", p["ImageRepositoryArns"].value_as_string)
        cache_prefix = p["DockerHubCachePrefix"].value_as_string
        uses_cache = CfnCondition(
            self, "UsesDockerHubCache", expression=Fn.condition_not(Fn.condition_equals(cache_prefix, ""))
        )
        cache = Fn.condition_if(uses_cache.logical_id, Fn.join("", [registry, "/", cache_prefix]), "").to_string()

        project = codebuild.PipelineProject(
            self,
            "ContainerFactory",
            # After the stack (mlops-pipeline*), as the permissions boundary requires.
            project_name=Fn.join("-", [Aws.STACK_NAME, "image"]),
            description="Builds the custom algorithm image and pushes it to ECR",
            build_spec=codebuild.BuildSpec.from_object(BUILD_SPEC),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=True,
            ),
            environment_variables={
                "REGISTRY": codebuild.BuildEnvironmentVariable(value=registry),
                "IMAGE_URI": codebuild.BuildEnvironmentVariable(value=image_uri),
                "REPOSITORY": codebuild.BuildEnvironmentVariable(value=p["ECRRepoName"].value_as_string),
                "IMAGE_TAG": codebuild.BuildEnvironmentVariable(value=p["ImageTag"].value_as_string),
                "DOCKER_HUB_CACHE": codebuild.BuildEnvironmentVariable(value=cache),
                "REWRITE_FROM": codebuild.BuildEnvironmentVariable(value=REWRITE_FROM_SOURCE),
            },
            encryption_key=kms.Alias.from_alias_name(self, "S3Key", "alias/aws/s3"),
        )
        project.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                    "ecr:ListImages",  # the tag check before the build
                ],
                resources=push_arns,
            )
        )
        # Through the pull-through cache: the first pull of an image imports it and creates its repository
        # under the rule's prefix (https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html).
        cache_pull = iam.Policy(
            self,
            "DockerHubCachePull",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchImportUpstreamImage",
                        "ecr:CreateRepository",
                    ],
                    resources=[f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{Aws.ACCOUNT_ID}:repository/{cache_prefix}/*"],
                )
            ],
        )
        assert project.role is not None
        cache_pull.attach_to_role(project.role)
        cache_pull_resource = cache_pull.node.default_child
        assert isinstance(cache_pull_resource, iam.CfnPolicy)
        cache_pull_resource.cfn_options.condition = uses_cache
        # GetAuthorizationToken has no resource: it returns the registry login; pushes are scoped above.
        project.add_to_role_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        network = declare_network(self, p)
        cfn_project = project.node.default_child
        assert isinstance(cfn_project, codebuild.CfnProject)
        cfn_project.add_property_override("VpcConfig", network.vpc_config(VpcId=p["VpcId"].value_as_string))
        # CodeBuild checks the role's EC2 permissions when it creates a project in a VPC.
        cfn_project.add_resource_dependency(
            after_policies(self, "BuildPermissions", [network.grant(project.role, "BuildVpcAccess", CODEBUILD)])
        )

        artifact, source = source_stage(self, assets, p["CustomImage"].value_as_string)
        # CodePipeline's artifacts go to the orchestrator's artifact bucket, as the wrappers' do: the build's
        # roles then hold no grant on the whole assets bucket, which every user may write.
        artifacts = s3.Bucket.from_bucket_name(self, "Artifacts", p["ArtifactBucket"].value_as_string)
        pipeline = blueprint_pipeline(
            self,
            assets,
            p["CustomImage"].value_as_string,
            p["NotificationsSNSTopicArn"].value_as_string,
            stages=[
                codepipeline.StageProps(stage_name="Source", actions=[source]),
                codepipeline.StageProps(
                    stage_name="Build",
                    actions=[actions.CodeBuildAction(action_name="BuildImage", project=project, input=artifact)],
                ),
            ],
            artifacts=artifacts,
        )
        acknowledge(
            project,
            ("AwsSolutions-CB3", "docker build needs privileged mode"),
            ("AwsSolutions-IAM5[Resource::*]", "ecr:GetAuthorizationToken has no resource-level permissions"),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
                "log-group:/aws/codebuild/<ContainerFactoryE806B68F>:*]",
                "CDK's grant on the project's own log group and its streams",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:"
                "report-group/<ContainerFactoryE806B68F>-*]",
                "CDK's grant on the project's own test report groups",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<ArtifactBucket>/*]",
                "The build reads its source artifact from the pipeline's artifact store (the orchestrator's artifact "
                "bucket, written only by the wrapper pipelines' own roles)",
            ),
            ("AwsSolutions-IAM5[Action::s3:GetObject*]", "CDK's read grant on the source artifact"),
            ("AwsSolutions-IAM5[Action::s3:GetBucket*]", "CDK's read grant on the artifact store's metadata"),
            ("AwsSolutions-IAM5[Action::s3:List*]", "CDK's read grant lists the artifact store"),
        )
        acknowledge(
            cache_pull,
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:"
                "repository/<DockerHubCachePrefix>/*]",
                "The pull-through cache creates one repository per Docker Hub image under the rule's prefix",
            ),
        )
        CfnOutput(self, "Pipelines", value=console_url(pipeline.pipeline_name), description="The pipeline's console")
        CfnOutput(self, "CustomAlgorithmImageURI", value=image_uri, description="The image the pipeline pushes")
