# SPDX-License-Identifier: Apache-2.0
"""IAM actions that several roles of the solution grant, named once."""

# What CloudFormation needs to create, update, invoke (custom resources) and delete a Lambda function.
LAMBDA_FUNCTION_ACTIONS = [
    "lambda:CreateFunction",
    "lambda:DeleteFunction",
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:AddPermission",
    "lambda:RemovePermission",
    "lambda:InvokeFunction",
    "lambda:TagResource",
    "lambda:UntagResource",
    "lambda:ListTags",
    # CloudFormation's read handlers, which it calls after every create and update.
    "lambda:GetFunctionCodeSigningConfig",
    "lambda:GetFunctionRecursionConfig",
    "lambda:GetFunctionScalingConfig",
    "lambda:GetRuntimeManagementConfig",
    "lambda:GetPolicy",
]
