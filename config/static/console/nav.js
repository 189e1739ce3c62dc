// The job sidebar (templates/admin/nav_sidebar.html): sections the operator opened stay open from
// page to page, and typing in the menu filter opens every section so matches are visible.
'use strict';
{
    const key = 'console.navOpenSections';
    const sections = document.querySelectorAll('#nav-sidebar details[data-section]');
    const remembered = new Set(JSON.parse(localStorage.getItem(key) || '[]'));
    sections.forEach((section) => {
        if (remembered.has(section.dataset.section)) {
            section.open = true;
        }
        section.addEventListener('toggle', () => {
            if (document.getElementById('nav-filter').value) {
                return;
            }
            const open = [...sections].filter((s) => s.open).map((s) => s.dataset.section);
            localStorage.setItem(key, JSON.stringify(open));
        });
    });
    const filter = document.getElementById('nav-filter');
    if (filter) {
        filter.addEventListener('input', () => {
            if (filter.value) {
                sections.forEach((section) => { section.open = true; });
            }
        });
    }
}
