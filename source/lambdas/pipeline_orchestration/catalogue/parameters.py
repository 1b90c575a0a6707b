# SPDX-License-Identifier: Apache-2.0
"""The CloudFormation parameters of every blueprint, each declared once.

A Blueprint lists the parameters its template declares; the CDK stacks declare their `CfnParameter`s from
these, the planner sends exactly these names, and the contract test compares the two. Where two templates
need different constraints under one name (an endpoint a monitor watches must exist; a real-time endpoint's
name may be left to SageMaker), each has its own declaration below. Allowed values come from the constants
the request fields use.
"""

from __future__ import annotations

from ..spec import Parameter
from .values import (
    AUTOPILOT_METRICS,
    COMPRESSION_TYPES,
    DATA_DISTRIBUTIONS,
    DATA_INPUT_MODES,
    DEPLOYMENT_STRATEGIES,
    PROBLEM_TYPES,
    RECORD_WRAPPINGS,
    S3_DATA_TYPES,
    SERVERLESS_MEMORY_SIZES,
    TRUE_FALSE,
)

BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
BUCKET_PATH = BUCKET + r"(/[^/]+)*/?"
NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
SNS_ARN = r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}"
NUMBER_OR_EMPTY = r"(\d+)?"
ORG_UNIT = r"(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})"


def optional(pattern: str) -> str:
    return f"({pattern})?"


# Shared by the blueprints
ASSETS_BUCKET = Parameter(
    "AssetsBucket",
    "Bucket of the orchestrator's assets (models, data, pipeline artifacts).",
    pattern=BUCKET,
    hint="a bucket name",
)
# -- Where the wrapper pipelines keep CodePipeline's artifacts (a bucket only their own roles write)
ARTIFACT_BUCKET = Parameter(
    "ArtifactBucket",
    "Bucket of the pipelines' CodePipeline artifacts, written only by the wrapper pipelines' own roles.",
    pattern=BUCKET,
    hint="a bucket name",
)
BLUEPRINT_BUCKET = Parameter(
    "BlueprintBucket",
    "Bucket holding the blueprints and their Lambda code.",
    pattern=BUCKET,
    hint="a bucket name",
)
KMS_KEY_ARN = Parameter(
    "KmsKeyArn",
    "KMS key ARN for outputs and volumes; empty for AWS-managed encryption.",
    pattern=r"(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[a-zA-Z0-9/_-]+)?",
    hint="a KMS key ARN or empty",
)
MODEL_NAME = Parameter(
    "ModelName",
    "Name of the model (tags and job names).",
    pattern=NAME,
    hint="letters, digits and hyphens, at most 63",
)
INFERENCE_INSTANCE = Parameter(
    "InferenceInstance",
    "Instance type of the endpoint or transform job.",
    pattern=r"ml\.[a-z0-9]+\.[a-z0-9]+",
    hint="a SageMaker instance type such as ml.m5.large",
)
ECR_REPO_ARN = Parameter(
    "CustomAlgorithmsECRRepoArn",
    "ARN of the solution's ECR repository of custom images; empty if there is none.",
    pattern=r"(arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/[a-z0-9._/-]+)?",
    hint="an ECR repository ARN or empty",
)
MODEL_ARTIFACT_LOCATION = Parameter(
    "ModelArtifactLocation", "Key of model.tar.gz in the assets bucket; empty with the model registry."
)
IMAGE_URI = Parameter("ImageUri", "Inference image URI; empty with the model registry.")
MODEL_PACKAGE_GROUP_NAME = Parameter(
    "ModelPackageGroupName",
    "Model package group; empty without the model registry.",
    pattern=optional(NAME),
    hint="must match ([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})?",
)
MODEL_PACKAGE_NAME = Parameter(
    "ModelPackageName",
    "Model package version ARN; empty without the model registry.",
    pattern=r"(arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+)?",
    hint="a model package version ARN or empty",
)
# -- The registered model package's artifacts: the only objects its model's role reads
MODEL_PACKAGE_ARTIFACTS = Parameter(
    "ModelPackageArtifacts",
    "Comma-separated S3 ARNs of the model package's artifacts (its containers' ModelDataUrl), the objects the "
    "model's role reads; empty without a model package or when it has none.",
    pattern=r"(arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^,?$]+(,arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^,?$]+)*)?",
    hint="comma-separated S3 object ARNs, or empty",
)

# Real-time
DATA_CAPTURE_LOCATION = Parameter(
    "DataCaptureLocation",
    "bucket/prefix for captured data; empty for a serverless endpoint.",
    pattern=optional(BUCKET_PATH),
    hint="bucket/prefix",
)
ENDPOINT_NAME = Parameter(
    "EndpointName",
    "Name of the endpoint; empty for a generated name.",
    pattern=optional(NAME),
    hint="must match ([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})?",
)
AUTOSCALING_MIN_INSTANCES = Parameter(
    "AutoscalingMinInstances",
    "Fewest instances with autoscaling.",
    pattern=NUMBER_OR_EMPTY,
    hint="a whole number or empty",
)
AUTOSCALING_MAX_INSTANCES = Parameter(
    "AutoscalingMaxInstances",
    "Most instances with autoscaling; empty turns autoscaling off.",
    pattern=NUMBER_OR_EMPTY,
    hint="a whole number or empty",
)
AUTOSCALING_TARGET_INVOCATIONS = Parameter(
    "AutoscalingTargetInvocations",
    "Invocations per instance per minute that autoscaling aims at.",
    pattern=NUMBER_OR_EMPTY,
    hint="a whole number or empty",
)
DEPLOYMENT_STRATEGY = Parameter(
    "DeploymentStrategy",
    "Blue/green traffic shifting on update; empty for SageMaker's default.",
    pattern=f"({'|'.join(DEPLOYMENT_STRATEGIES)})?",
    hint="ALL_AT_ONCE, CANARY, LINEAR or empty",
)
TRAFFIC_SHIFT_PERCENT = Parameter(
    "TrafficShiftPercent",
    "Capacity percent per canary or linear step.",
    pattern=NUMBER_OR_EMPTY,
    hint="a whole number or empty",
)
TRAFFIC_SHIFT_WAIT_SECONDS = Parameter(
    "TrafficShiftWaitSeconds",
    "Seconds between traffic-shifting steps.",
    pattern=NUMBER_OR_EMPTY,
    hint="a whole number or empty",
)
SERVERLESS_MEMORY_SIZE = Parameter(
    "ServerlessMemorySize",
    "Memory (MB) of a serverless endpoint; empty for instances.",
    pattern=f"({'|'.join(SERVERLESS_MEMORY_SIZES)})?",
    hint="1024 to 6144 in steps of 1024, or empty",
)
SERVERLESS_MAX_CONCURRENCY = Parameter(
    "ServerlessMaxConcurrency",
    "Most concurrent invocations of a serverless endpoint.",
    pattern=NUMBER_OR_EMPTY,
    hint="a whole number or empty",
)
ASYNC_OUTPUT_LOCATION = Parameter(
    "AsyncOutputLocation",
    "bucket/prefix for asynchronous results; empty for a synchronous endpoint.",
    pattern=optional(BUCKET_PATH),
    hint="bucket/prefix or empty",
)
ASYNC_SUCCESS_TOPIC_ARN = Parameter(
    "AsyncSuccessTopicArn",
    "SNS topic for asynchronous successes.",
    pattern=optional(SNS_ARN),
    hint="an SNS topic ARN or empty",
)
ASYNC_ERROR_TOPIC_ARN = Parameter(
    "AsyncErrorTopicArn",
    "SNS topic for asynchronous failures.",
    pattern=optional(SNS_ARN),
    hint="an SNS topic ARN or empty",
)

# Batch
BATCH_INPUT_BUCKET = Parameter("BatchInputBucket", "Bucket of the batch input.", pattern=BUCKET, hint="a bucket name")
BATCH_INFERENCE_DATA = Parameter(
    "BatchInferenceData",
    "bucket/key-or-prefix of the batch input.",
    pattern=BUCKET_PATH,
    hint="bucket/key",
)
BATCH_OUTPUT_LOCATION = Parameter(
    "BatchOutputLocation",
    "bucket/prefix for the batch output.",
    pattern=BUCKET_PATH,
    hint="bucket/prefix",
)
NOTIFICATIONS_TOPIC_ARN = Parameter(
    "NotificationsSNSTopicArn",
    "SNS topic told of the pipeline's outcome.",
    pattern=SNS_ARN,
    hint="an SNS topic ARN",
)

# Image builder
CUSTOM_IMAGE = Parameter(
    "CustomImage",
    "Key in the assets bucket of the zip with the Dockerfile.",
    pattern=r".+\.zip",
    hint="a key ending in .zip",
)
ECR_REPO_NAME = Parameter(
    "ECRRepoName",
    "ECR repository to push the image to.",
    pattern=r"([a-z0-9]+([._-][a-z0-9]+)*/)*[a-z0-9]+([._-][a-z0-9]+)*",
    hint="an ECR repository name",
)
IMAGE_TAG = Parameter(
    "ImageTag", "Tag of the image.", pattern=r"[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}", hint="a Docker tag"
)
# What the build may push to and pull through, set by the orchestrator, never by a request.
IMAGE_REPOSITORY_ARNS = Parameter(
    "ImageRepositoryArns",
    "Comma-separated ARNs of the repositories the build may push to: the orchestrator's and the allowed ones.",
    pattern=r"arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9._/-]+"
    r"(,arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9._/-]+)*",
    hint="comma-separated ECR repository ARNs",
)
DOCKER_HUB_CACHE_PREFIX = Parameter(
    "DockerHubCachePrefix",
    "Repository prefix of the registry's Docker Hub pull-through cache rule; empty: FROM lines are kept as written.",
    pattern=r"((?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)?",
    hint="an ECR repository prefix or empty",
    default="",
)

# The CodePipeline wrapper stacks
TEMPLATE_ZIP_FILE_NAME = Parameter(
    "TemplateZipFileName",
    "Key of the pipeline's template.zip in the assets bucket.",
    pattern=r".+\.zip",
    hint="a .zip key",
)
TEMPLATE_FILE_NAME = Parameter(
    "TemplateFileName", "Blueprint template inside template.zip.", pattern=r".+\.yaml", hint="a .yaml file name"
)
TEMPLATE_PARAMS_NAME = Parameter(
    "TemplateParamsName", "Template configuration inside template.zip.", pattern=r".+\.json", hint="a .json file name"
)
STACK_NAME = Parameter(
    "StackName",
    "Name of the deployed blueprint stack (or StackSets' prefix).",
    pattern=r"[a-zA-Z][-a-zA-Z0-9]{0,127}",
    hint="must match [a-zA-Z][-a-zA-Z0-9]{0,127}",
)
DEV_PARAMS_NAME = Parameter(
    "DevParamsName", "Dev parameters inside template.zip.", pattern=r".+\.json", hint="a .json file name"
)
STAGING_PARAMS_NAME = Parameter(
    "StagingParamsName", "Staging parameters inside template.zip.", pattern=r".+\.json", hint="a .json file name"
)
PROD_PARAMS_NAME = Parameter(
    "ProdParamsName", "Prod parameters inside template.zip.", pattern=r".+\.json", hint="a .json file name"
)
DEV_ACCOUNT_ID = Parameter("DevAccountId", "Dev account id.", pattern=r"\d{12}", hint="12 digits")
STAGING_ACCOUNT_ID = Parameter("StagingAccountId", "Staging account id.", pattern=r"\d{12}", hint="12 digits")
PROD_ACCOUNT_ID = Parameter("ProdAccountId", "Prod account id.", pattern=r"\d{12}", hint="12 digits")
DEV_ORG_ID = Parameter(
    "DevOrgId",
    "Organizational unit of the dev account.",
    pattern=ORG_UNIT,
    hint="must match (ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})",
)
STAGING_ORG_ID = Parameter(
    "StagingOrgId",
    "Organizational unit of the staging account.",
    pattern=ORG_UNIT,
    hint="must match (ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})",
)
PROD_ORG_ID = Parameter(
    "ProdOrgId",
    "Organizational unit of the prod account.",
    pattern=ORG_UNIT,
    hint="must match (ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})",
)
PERMISSIONS_BOUNDARY_ARN = Parameter(
    "PermissionsBoundaryArn",
    "Permissions boundary of every role the stack creates; empty for none (a multi-account stage).",
    pattern=r"(arn:aws[a-z-]*:iam::\d{12}:policy/[\w+=,.@/-]{1,128})?",
    hint="an IAM policy ARN or empty",
)
DELEGATED_ADMIN_ACCOUNT = Parameter(
    "DelegatedAdminAccount",
    "Yes: call StackSets as the Organization's delegated administrator.",
    allowed_values=("Yes", "No"),
    default="Yes",
)

# Monitors (their endpoint must exist, its data is captured, and their jobs need an image)
MONITOR_DATA_CAPTURE_LOCATION = Parameter(
    "DataCaptureLocation", "bucket/prefix of the endpoint's captured data", hint="must be bucket/prefix", min_length=3
)
MONITORED_ENDPOINT_NAME = Parameter(
    "EndpointName", "Endpoint to monitor", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$", min_length=1, max_length=63
)
JOB_IMAGE_URI = Parameter("ImageUri", "Image of the job", min_length=1)
BASELINE_JOB_NAME = Parameter(
    "BaselineJobName",
    "Name of the baseline processing job",
    pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
    min_length=3,
    max_length=63,
)
BASELINE_OUTPUT_BUCKET = Parameter(
    "BaselineOutputBucket",
    "Bucket of the baseline job's output",
    pattern=f"^{BUCKET}$",
    hint="must be an S3 bucket name",
)
BASELINE_JOB_OUTPUT_LOCATION = Parameter(
    "BaselineJobOutputLocation",
    "bucket/prefix/<baseline job name> of the baseline job's output",
    hint="must be bucket/prefix",
    min_length=3,
)
DATA_CAPTURE_BUCKET = Parameter(
    "DataCaptureBucket",
    "Bucket of the endpoint's captured data",
    pattern=f"^{BUCKET}$",
    hint="must be an S3 bucket name",
)
INSTANCE_TYPE = Parameter(
    "InstanceType",
    "Instance type of the jobs",
    pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$",
    hint="must be a SageMaker instance type such as ml.m5.large",
)
INSTANCE_VOLUME_SIZE = Parameter("InstanceVolumeSize", "Volume size (GB) of each instance", number=(1, 16384))
BASELINE_MAX_RUNTIME_SECONDS = Parameter(
    "BaselineMaxRuntimeSeconds", "Optional maximum runtime (seconds) of the baseline job", pattern=r"^(\d{1,5})?$"
)
MONITOR_MAX_RUNTIME_SECONDS = Parameter(
    "MonitorMaxRuntimeSeconds", "Maximum runtime (seconds) of each monitoring job", number=(1, 86400), default=1800
)
MONITORING_OUTPUT_LOCATION = Parameter(
    "MonitoringOutputLocation", "bucket/prefix of the monitoring reports", hint="must be bucket/prefix", min_length=3
)
MONITORING_SCHEDULE_NAME = Parameter(
    "MonitoringScheduleName",
    "Name of the monitoring schedule",
    pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
    min_length=3,
    max_length=63,
)
VIOLATION_THRESHOLD = Parameter(
    "ViolationThreshold",
    "Constraint violations of one monitoring execution that put the violations alarm in ALARM",
    number=(1, 1000000),
    default=1,
)
SCHEDULE_EXPRESSION = Parameter(
    "ScheduleExpression",
    "Cron expression of the schedule, e.g. cron(0 * ? * * *)",
    pattern=r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$",
    hint="must be cron( followed by six fields and )",
)
BASELINE_DATA = Parameter("BaselineData", "Key of the baseline CSV (with header) in the assets bucket", min_length=1)
BASELINE_INFERENCE_ATTRIBUTE = Parameter(
    "BaselineInferenceAttribute", "Column of the predictions in the baseline data", default=""
)
BASELINE_PROBABILITY_ATTRIBUTE = Parameter(
    "BaselineProbabilityAttribute", "Column of the probabilities in the baseline data", default=""
)
BASELINE_GROUND_TRUTH_ATTRIBUTE = Parameter(
    "BaselineGroundTruthAttribute", "Column of the ground truth in the baseline data", default=""
)
PROBLEM_TYPE = Parameter("ProblemType", "Problem type of the model", allowed_values=PROBLEM_TYPES)
MONITOR_INFERENCE_ATTRIBUTE = Parameter(
    "MonitorInferenceAttribute", "Index or JSONPath of the prediction in the endpoint output", default=""
)
MONITOR_PROBABILITY_ATTRIBUTE = Parameter(
    "MonitorProbabilityAttribute", "Index or JSONPath of the probability in the endpoint output", default=""
)
PROBABILITY_THRESHOLD_ATTRIBUTE = Parameter(
    "ProbabilityThresholdAttribute",
    "Threshold that turns a probability into a label (may be empty)",
    pattern=r"^(\d*\.?\d+)?$",
)
GROUND_TRUTH_BUCKET = Parameter(
    "GroundTruthBucket",
    "Bucket of the ground-truth labels",
    pattern=f"^{BUCKET}$",
    hint="must be an S3 bucket name",
)
MONITOR_GROUND_TRUTH_INPUT = Parameter(
    "MonitorGroundTruthInput", "bucket/prefix of the ground-truth labels", hint="must be bucket/prefix", min_length=3
)
MODEL_PREDICTED_LABEL_CONFIG = Parameter(
    "ModelPredictedLabelConfig", "Clarify ModelPredictedLabelConfig as JSON", default=""
)
BIAS_CONFIG = Parameter("BiasConfig", "Clarify BiasConfig as JSON", min_length=2)
SHAP_CONFIG = Parameter("SHAPConfig", "Clarify SHAPConfig as JSON", min_length=2)
# The one object of the assets bucket the explainability role reads besides the baseline data: no role reads the
# whole bucket.
SHAP_BASELINE_KEY = Parameter(
    "ShapBaselineKey", "Key in the assets bucket of the SHAPConfig baseline file; empty for inline rows", default=""
)
EXPLAINABILITY_MODEL_SCORES = Parameter(
    "ExplainabilityModelScores", "Index or JSONPath (as JSON) of the score to explain", default=""
)
FEATURES_ATTRIBUTE = Parameter(
    "FeaturesAttribute", "JSONPath or index of the features in the endpoint input", default=""
)

# Training, tuning and Autopilot
JOB_NAME = Parameter("JobName", "Name of the job", pattern=r"^[a-z0-9](-*[a-z0-9])*$", min_length=1, max_length=63)
JOB_OUTPUT_LOCATION = Parameter(
    "JobOutputLocation", "Prefix in the assets bucket for the job's output", min_length=1, max_length=128
)
TRAINING_DATA = Parameter(
    "TrainingData", "Key or prefix of the training data in the assets bucket", min_length=1, max_length=128
)
VALIDATION_DATA = Parameter(
    "ValidationData", "Optional key of the validation data in the assets bucket", default="", max_length=128
)
ENCRYPT_INNER_TRAFFIC = Parameter(
    "EncryptInnerTraffic", "Encrypt traffic between containers", allowed_values=TRUE_FALSE, default="True"
)
MAX_RUNTIME_PER_JOB = Parameter(
    "MaxRuntimePerJob", "Maximum runtime (seconds) of one training job", number=(600, 259200), default=86400
)
COMPRESSION_TYPE = Parameter(
    "CompressionType", "Compression of the input data", allowed_values=("", *COMPRESSION_TYPES), default=""
)
JOB_INSTANCE_COUNT = Parameter("JobInstanceCount", "Number of training instances", number=(1, 100), default=1)
USE_SPOT_INSTANCES = Parameter(
    "UseSpotInstances", "Use managed spot training", allowed_values=TRUE_FALSE, default="True"
)
MAX_WAIT_TIME_FOR_SPOT_INSTANCES = Parameter(
    "MaxWaitTimeForSpotInstances", "Maximum wait (seconds) for spot capacity", number=(1, 259200), default=172800
)
CONTENT_TYPE = Parameter("ContentType", "MIME type of the training data", default="csv")
S3_DATA_TYPE = Parameter("S3DataType", "S3 data type", allowed_values=S3_DATA_TYPES, default="S3Prefix")
DATA_DISTRIBUTION = Parameter(
    "DataDistribution", "Distribution of the data", allowed_values=DATA_DISTRIBUTIONS, default="FullyReplicated"
)
DATA_INPUT_MODE = Parameter("DataInputMode", "Input mode", allowed_values=DATA_INPUT_MODES, default="File")
DATA_RECORD_WRAPPING = Parameter(
    "DataRecordWrapping", "Record wrapping", allowed_values=("", *RECORD_WRAPPINGS), default=""
)
ATTRIBUTE_NAMES = Parameter("AttributeNames", "JSON list of attribute names (AugmentedManifestFile)", default="")
ALGO_HYPERPARAMETERES = Parameter("AlgoHyperparameteres", "Hyperparameters of the algorithm as JSON", min_length=2)
HYPERPARAMETERS_TUNER_CONFIG = Parameter("HyperparametersTunerConfig", "Tuner settings as JSON", min_length=2)
ALGO_HYPERPARAMETERES_RANGE = Parameter("AlgoHyperparameteresRange", "Hyperparameter ranges as JSON", min_length=2)
AUTOPILOT_JOB_OBJECTIVE = Parameter(
    "AutopilotJobObjective", "Metric to optimize", allowed_values=("", *AUTOPILOT_METRICS), default=""
)
TARGET_ATTRIBUTE = Parameter("TargetAttribute", "Name of the target column", min_length=1)
AUTOPILOT_MAX_CANDIDATES = Parameter(
    "AutopilotMaxCandidates", "Maximum number of candidates", number=(1, 750), default=10
)
AUTOPILOT_TOTAL_RUNTIME = Parameter(
    "AutopilotTotalRuntime", "Maximum runtime (seconds) of the whole job", number=(3600, 2592000), default=2592000
)
GENERATE_DEFINITIONS_ONLY = Parameter(
    "GenerateDefinitionsOnly", "Only generate candidate definitions", allowed_values=TRUE_FALSE, default="False"
)
# Autopilot may infer the problem type.
AUTOPILOT_PROBLEM_TYPE = PROBLEM_TYPE.but(allowed_values=("", *PROBLEM_TYPES), default="")
# A serverless endpoint has no instance type.
REALTIME_INFERENCE_INSTANCE = INFERENCE_INSTANCE.but(pattern=r"(ml\.[a-z0-9]+\.[a-z0-9]+)?")


# Parameter groups of several blueprints
# Every blueprint takes the permissions boundary of the roles it creates.
COMMON = (ASSETS_BUCKET, KMS_KEY_ARN, BLUEPRINT_BUCKET, PERMISSIONS_BOUNDARY_ARN)


def model_parameters(instance: Parameter = INFERENCE_INSTANCE) -> tuple[Parameter, ...]:
    """The SageMaker model of the real-time and batch blueprints: from the registry, or artifact and image."""
    return (
        MODEL_NAME,
        instance,
        ECR_REPO_ARN,
        MODEL_ARTIFACT_LOCATION,
        IMAGE_URI,
        MODEL_PACKAGE_GROUP_NAME,
        MODEL_PACKAGE_NAME,
        MODEL_PACKAGE_ARTIFACTS,
    )


# The VPC the containers run in (empty: none, as before) and their network isolation.
SUBNET_ID = r"subnet-([0-9a-f]{8}|[0-9a-f]{17})"
SECURITY_GROUP_ID = r"sg-([0-9a-f]{8}|[0-9a-f]{17})"
VPC_ID = r"vpc-([0-9a-f]{8}|[0-9a-f]{17})"
# SageMaker's limits: 1 to 16 subnets, 1 to 5 security groups.
MAX_SUBNETS, MAX_SECURITY_GROUPS = 16, 5
SUBNET_IDS = Parameter(
    "SubnetIds",
    "Comma-separated subnets the containers run in; empty for no VPC.",
    pattern=optional(f"{SUBNET_ID}(,{SUBNET_ID}){{0,{MAX_SUBNETS - 1}}}"),
    hint=f"1 to {MAX_SUBNETS} comma-separated subnet ids (subnet-0123abcd), or empty",
)
SECURITY_GROUP_IDS = Parameter(
    "SecurityGroupIds",
    "Comma-separated security groups of the containers; empty for no VPC.",
    pattern=optional(f"{SECURITY_GROUP_ID}(,{SECURITY_GROUP_ID}){{0,{MAX_SECURITY_GROUPS - 1}}}"),
    hint=f"1 to {MAX_SECURITY_GROUPS} comma-separated security group ids (sg-0123abcd), or empty",
)
# CodeBuild's VPC configuration names the VPC as well as its subnets.
VPC_ID_PARAMETER = Parameter(
    "VpcId",
    "VPC of the subnets; empty for no VPC.",
    pattern=optional(VPC_ID),
    hint="a VPC id (vpc-0123abcd) or empty",
)
ENABLE_NETWORK_ISOLATION = Parameter(
    "EnableNetworkIsolation",
    "True: the containers make no network calls (SageMaker still fetches their inputs and artifacts).",
    allowed_values=TRUE_FALSE,
    default="False",
)
ENCRYPT_INTER_CONTAINER_TRAFFIC = Parameter(
    "EncryptInterContainerTraffic",
    "Encrypt traffic between the containers of the baseline and monitoring jobs",
    allowed_values=TRUE_FALSE,
    default="True",
)
NETWORK = (SUBNET_IDS, SECURITY_GROUP_IDS)
ISOLATED_NETWORK = (*NETWORK, ENABLE_NETWORK_ISOLATION)
