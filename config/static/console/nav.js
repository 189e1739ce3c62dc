// The job sidebar (templates/admin/nav_sidebar.html): a section the operator opens by hand stays
// open from page to page (the current page's section is open anyway), and typing in the menu
// filter opens every section so the matches are visible.
'use strict';
{
    const key = 'console.navOpenSections';
    const sections = document.querySelectorAll('#nav-sidebar details[data-section]');
    const remembered = new Set(JSON.parse(localStorage.getItem(key) || '[]'));
    sections.forEach((section) => {
        if (remembered.has(section.dataset.section)) {
            section.open = true;
        }
        // A click, not the toggle event: that one also fires for the sections opened above.
        section.querySelector('summary').addEventListener('click', () => {
            const opening = !section.open;
            if (opening) {
                remembered.add(section.dataset.section);
            } else {
                remembered.delete(section.dataset.section);
            }
            localStorage.setItem(key, JSON.stringify([...remembered]));
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
