# Install layout and the Debian package. Installed files live where the workbench looks for them
# (app_paths.cpp): share/duet-workbench/{demo,icons} through XDG_DATA_DIRS, the .desktop file and
# the icon in the freedesktop locations.
set(DUET_RES ${PROJECT_SOURCE_DIR}/resources)
install(FILES ${DUET_RES}/duet-workbench.desktop DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
install(FILES ${DUET_RES}/duet-workbench.svg DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps)
install(FILES ${DUET_RES}/duet-workbench.svg DESTINATION ${CMAKE_INSTALL_DATADIR}/duet-workbench/icons)
# The demo experiment (issue 4): installed when it is in the tree at configure time.
if(EXISTS ${DUET_RES}/demo)
  install(DIRECTORY ${DUET_RES}/demo/ DESTINATION ${CMAKE_INSTALL_DATADIR}/duet-workbench/demo)
endif()

set(CPACK_PACKAGE_NAME "duet-workbench")
set(CPACK_PACKAGE_VENDOR "Duet Workbench")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Desktop workbench for DUET: capable/light LLM pairs on GGUF models")
set(CPACK_PACKAGE_DESCRIPTION
    "Runs GGUF models natively (llama, qwen2, qwen3), streams a capable model's reasoning signal to a light model, "
    "evaluates checkpoints and plots accuracy against output tokens. Includes the duet CLI.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "duet-workbench maintainers <duet-workbench@localhost>")
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
