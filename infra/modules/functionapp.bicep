@description('The function app on Flex Consumption: identity-based storage, Key Vault references, optionally on a virtual network.')
param name string
param planName string
param location string
param tags object

@description('Always-ready instances serving KooGallery\'s callbacks: a cold start can exceed its 5-second timeout.')
@minValue(0)
param alwaysReadyHttpInstances int

@description('Subnet (delegated to Microsoft.App/environments) the app joins when private networking is on; empty otherwise.')
param subnetId string = ''

param identityId string
param identityClientId string
param storageAccountName string
param storageBlobEndpoint string

@description('Queue and table endpoints of the storage account, as the cloud names them (sovereign clouds differ from core.windows.net).')
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param applicationInsightsConnectionString string
param keyVaultName string

@description('True when an additional KooGallery Key is stored for a rotation (KooGallery__Keys__1).')
param hasAdditionalKey bool

@description('True while the credential key rotates: the previous key is read as Credentials__Keys__1.')
param hasPreviousCredentialKey bool

@description('True when a separate kit Key is stored: it is read as KooGallery__KitKeys__0.')
param hasKitKey bool

@description('True when the RSA private key for applicationSync is stored: it is read as JointOperation__RsaPrivateKey.')
param hasRsaPrivateKey bool

@description('True when a login ticket key is stored: it is read as Login__TicketKeys__0.')
param hasLoginTicketKey bool

@description('True when an operator key is stored: it is read as Console__OperatorKeys__0.')
param hasOperatorKey bool

@description('True when the operators\' app registration has a client secret stored.')
param hasOperatorAppClientSecret bool

@description('Client id of the operators\' Entra app registration; empty: App Service Authentication stays off.')
param operatorAppClientId string

@description('True when a tenant webhook secret is stored.')
param hasTenantWebhookSecret bool

@description('App settings that are not secrets and not storage/monitoring plumbing (from main.bicep).')
param appSettings object

func kvRef(vault string, secret string) string => '@Microsoft.KeyVault(VaultName=${vault};SecretName=${secret})'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    // On a virtual network every outbound call, Key Vault references included, goes through it: storage and
    // the vault then answer only on their private endpoints.
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    vnetRouteAllEnabled: !empty(subnetId)
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: 2048
        maximumInstanceCount: 100
        alwaysReady: alwaysReadyHttpInstances > 0 ? [{ name: 'http', instanceCount: alwaysReadyHttpInstances }] : []
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(
      appSettings,
      // Only while rotating: an empty KooGallery__Keys__1 would be an empty Key, which the app refuses at start.
      hasAdditionalKey ? { KooGallery__Keys__1: kvRef(keyVaultName, 'koogallery-additional-key') } : {},
      hasPreviousCredentialKey ? { Credentials__Keys__1: kvRef(keyVaultName, 'credential-previous-key') } : {},
      hasKitKey ? { KooGallery__KitKeys__0: kvRef(keyVaultName, 'koogallery-kit-key') } : {},
      hasRsaPrivateKey ? { JointOperation__RsaPrivateKey: kvRef(keyVaultName, 'rsa-private-key') } : {},
      hasLoginTicketKey ? { Login__TicketKeys__0: kvRef(keyVaultName, 'login-ticket-key') } : {},
      hasOperatorKey ? { Console__OperatorKeys__0: kvRef(keyVaultName, 'operator-key') } : {},
      hasOperatorAppClientSecret ? { MICROSOFT_PROVIDER_AUTHENTICATION_SECRET: kvRef(keyVaultName, 'operator-app-client-secret') } : {},
      {
      // Storage by identity: no connection string, no account key.
      AzureWebJobsStorage__accountName: storageAccountName
      // The endpoints the storage account reports, so neither the host nor the app assumes core.windows.net.
      AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
      AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
      AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      // Application Insights with local auth disabled: telemetry is sent as the app's identity.
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
      // Secrets: Key Vault references resolved with the identity (keyVaultReferenceIdentity).
      KooGallery__Keys__0: kvRef(keyVaultName, 'koogallery-key')
      Credentials__Keys__0: kvRef(keyVaultName, 'credential-key')
      Marketplace__AccessKey: kvRef(keyVaultName, 'marketplace-access-key')
      Marketplace__SecretKey: kvRef(keyVaultName, 'marketplace-secret-key')
      Provisioning__Webhook__Secret: hasTenantWebhookSecret ? kvRef(keyVaultName, 'tenant-webhook-secret') : ''
    }
    )
  }
}

// App Service Authentication for the console: it signs operators in with Entra ID and tells the app who they
// are (X-MS-CLIENT-PRINCIPAL, which it strips from callers). Anonymous requests still pass, because
// KooGallery's callbacks carry no Entra token; the console's endpoints refuse them themselves.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(operatorAppClientId)) {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
          clientId: operatorAppClientId
          clientSecretSettingName: hasOperatorAppClientSecret ? 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET' : null
        }
        validation: {
          allowedAudiences: [operatorAppClientId, 'api://${operatorAppClientId}']
        }
      }
    }
    login: {
      tokenStore: {
        enabled: true
      }
    }
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
