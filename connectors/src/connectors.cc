// Library anchor: keeps reflex::connectors a real archive while its parts are added.
namespace reflex::connectors {
int LibraryAnchor() { return 0; }
}  // namespace reflex::connectors
