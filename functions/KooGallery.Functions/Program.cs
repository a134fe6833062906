using KooGallery.Functions;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
KooGalleryApp.Configure(builder);
builder.Build().Run();
