@description('Key Vault (RBAC) holding every secret the app reads, as Key Vault references.')
param name string
param location string
param tags object
param principalId string

@description('True: no access from public networks; the app resolves its Key Vault references over a private endpoint.')
param privateNetworking bool = false

@description('recover: bring back the soft-deleted vault of the same name (after azd down) instead of failing on it.')
@allowed(['default', 'recover'])
param createMode string = 'default'

@secure()
@description('The KooGallery Key bound to the production address (KooGallery__Keys__0).')
param koogalleryKey string

@secure()
@description('During a Key rotation: a second Key that also verifies calls (KooGallery__Keys__1); empty otherwise.')
param koogalleryAdditionalKey string

@secure()
@description('Access key id of the merchant account (Marketplace__AccessKey).')
param marketplaceAccessKey string

@secure()
@description('Secret access key of the merchant account (Marketplace__SecretKey).')
param marketplaceSecretKey string

@secure()
@description('HMAC secret of the tenant webhook (Provisioning__Webhook__Secret); empty in BuiltIn mode.')
param tenantWebhookSecret string

@secure()
@description('RSA private key (PEM) for joint-operation clientSecret decryption; empty when not used.')
param rsaPrivateKey string

@secure()
@description('Encrypts stored initial tenant passwords (Credentials__Keys__0).')
param credentialKey string

@secure()
@description('During a credential-key rotation: the previous key (Credentials__Keys__1); empty otherwise.')
param credentialPreviousKey string

@secure()
@description('The Key of the joint-operation kit interfaces (KooGallery__KitKeys__0); empty when not used.')
param koogalleryKitKey string

@secure()
@description('Signs joint-operation login tickets (Login__TicketKeys__0); empty when sign-on is not offered.')
param loginTicketKey string

@secure()
@description('Operator key for scripts using the console endpoints (Console__OperatorKeys__0); empty otherwise.')
param operatorKey string

@secure()
@description('Client secret of the operators\' Entra app registration (App Service Authentication); empty otherwise.')
param operatorAppClientSecret string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    createMode: createMode
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 30
    enablePurgeProtection: true
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
      // Resource Manager writes the secrets of this deployment as a trusted service.
      bypass: 'AzureServices'
    }
  }
}

var secrets = [
  { name: 'koogallery-key', value: koogalleryKey }
  { name: 'koogallery-additional-key', value: koogalleryAdditionalKey }
  { name: 'marketplace-access-key', value: marketplaceAccessKey }
  { name: 'marketplace-secret-key', value: marketplaceSecretKey }
  { name: 'tenant-webhook-secret', value: tenantWebhookSecret }
  { name: 'rsa-private-key', value: rsaPrivateKey }
  { name: 'credential-key', value: credentialKey }
  { name: 'credential-previous-key', value: credentialPreviousKey }
  { name: 'koogallery-kit-key', value: koogalleryKitKey }
  { name: 'login-ticket-key', value: loginTicketKey }
  { name: 'operator-key', value: operatorKey }
  { name: 'operator-app-client-secret', value: operatorAppClientSecret }
]

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for s in secrets: if (!empty(s.value)) {
  parent: vault
  name: s.name
  properties: {
    value: s.value
  }
}]

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, '4633458b-17de-408a-b874-0445c86b69e6')
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
